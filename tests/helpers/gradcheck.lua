-- Finite-difference gradient checker.
--
-- gradcheck(f, inputs [, opts]) compares the gradients autograd computes for
-- loss = sum(f(inputs...) * W) with central differences (f(x + eps) - f(x - eps)) / 2eps,
-- element by element, for every input. W is a fixed, non-uniform weight tensor, so every
-- output element contributes with a different factor (a plain sum would hide errors that
-- permute or mix up gradient entries). Inputs should be float64 leaves with
-- requires_grad = true; the checks run in float64 unless f itself converts.
--
-- opts: eps (1e-6), atol (1e-6), rtol (1e-4), inputs_to_check (list of indices).
-- Raises an error naming the input, the element and both values on a mismatch.
local lc = require 'luacnn'

local function weights_like(out)
  local n = out:numel()
  local w = {}
  for i = 1, n do w[i] = 0.5 + ((i * 7) % 13) / 10 end -- in [0.5, 1.7], no pattern to exploit
  local t = lc.tensor(w, { dtype = 'float64' })
  if out:dim() == 0 then return t:view({}) end
  return t:view(out:shape())
end

local function weighted_sum(out, W)
  return (out:to('float64') * W):sum()
end

local function gradcheck(f, inputs, opts)
  opts = opts or {}
  local eps, atol, rtol = opts.eps or 1e-6, opts.atol or 1e-6, opts.rtol or 1e-4
  for k, x in ipairs(inputs) do
    assert(lc.is_tensor(x) and x.requires_grad and x.is_leaf,
           'gradcheck: input ' .. k .. ' must be a leaf tensor with requires_grad = true')
    x.grad = nil
  end

  -- analytical
  local out = f(table.unpack(inputs))
  assert(lc.is_tensor(out), 'gradcheck: f must return a tensor')
  assert(out.requires_grad, 'gradcheck: the output does not require grad (no graph was recorded)')
  local W = weights_like(out)
  weighted_sum(out, W):backward()

  local function value()
    return lc.no_grad(function() return weighted_sum(f(table.unpack(inputs)), W):item() end)
  end

  local which = opts.inputs_to_check
  if not which then
    which = {}
    for k = 1, #inputs do which[k] = k end
  end
  for _, k in ipairs(which) do
    local x = inputs[k]
    local g = x.grad
    if g then
      assert(g:shape() == x:shape(), string.format('gradcheck: input %d: grad has shape %s, input %s',
                                                   k, tostring(g:shape()), tostring(x:shape())))
      assert(g.dtype == x.dtype, string.format('gradcheck: input %d: grad is %s, input %s', k,
                                               g.dtype, x.dtype))
    end
    local analytic = g and g:contiguous():view(-1):totable() or {}
    -- perturb through a history-free alias of the leaf's storage
    local flat = x:detach():contiguous():view(-1)
    assert(x:is_contiguous(), 'gradcheck: inputs must be contiguous (make views inside f)')
    for i = 1, x:numel() do
      local orig = flat[i]:item()
      flat[i] = orig + eps
      local fp = value()
      flat[i] = orig - eps
      local fm = value()
      flat[i] = orig
      local numeric = (fp - fm) / (2 * eps)
      local a = analytic[i] or 0
      if math.abs(a - numeric) > atol + rtol * math.abs(numeric) then
        error(string.format('gradcheck: input %d (shape %s) element %d: analytical %.8g vs numerical %.8g',
                            k, tostring(x:shape()), i, a, numeric), 2)
      end
    end
  end
  return true
end

-- A float64 leaf that requires grad, from a nested table of values (or a number).
local function leaf(data)
  return lc.tensor(data, { dtype = 'float64', requires_grad = true })
end

-- A float64 leaf of the given sizes, standard normal (seed it with lc.manual_seed).
local function randleaf(...)
  return lc.randn({ ... }, { dtype = 'float64', requires_grad = true })
end

-- A float64 leaf of the given sizes, uniform in [lo, hi): for ops defined on a range.
local function uleaf(lo, hi, ...)
  local t = lc.rand({ ... }, { dtype = 'float64' }) * (hi - lo) + lo
  t.requires_grad = true
  return t
end

return { gradcheck = gradcheck, leaf = leaf, randleaf = randleaf, uleaf = uleaf }

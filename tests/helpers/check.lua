-- Small assertion helpers shared by the specs: tolerant comparison of nested Lua tables
-- and numbers, and "this call raises an error whose message contains all of these".
local check = {}

-- Flattens a nested table (or a number) into a list, row-major.
function check.flatten(v, out)
  out = out or {}
  if type(v) == 'table' then
    for i = 1, #v do check.flatten(v[i], out) end
  else
    out[#out + 1] = v
  end
  return out
end

local function shape_of(v, out)
  out = out or {}
  if type(v) == 'table' then
    out[#out + 1] = #v
    if #v > 0 then shape_of(v[1], out) end
  end
  return out
end

local function num_close(a, b, tol)
  if a ~= a and b ~= b then return true end -- both nan
  if a == b then return true end
  return math.abs(a - b) <= tol * (1 + math.abs(b))
end

-- Asserts that `actual` (a tensor, a nested table or a number) equals `expected` within
-- tol (relative, plus the same absolute), shape included. Reports the first mismatch.
function check.close(actual, expected, tol, what)
  tol = tol or 1e-6
  if type(actual) == 'userdata' then actual = actual:totable() end
  if type(expected) == 'userdata' then expected = expected:totable() end
  local sa, se = shape_of(actual), shape_of(expected)
  if #sa ~= #se then
    error(string.format('%sshape mismatch: got %d dims, expected %d', what and what .. ': ' or '',
                        #sa, #se), 2)
  end
  for i = 1, #sa do
    if sa[i] ~= se[i] then
      error(string.format('%sshape mismatch at dim %d: got %d, expected %d',
                          what and what .. ': ' or '', i, sa[i], se[i]), 2)
    end
  end
  local fa, fe = check.flatten(actual), check.flatten(expected)
  for i = 1, #fe do
    if not num_close(fa[i], fe[i], tol) then
      error(string.format('%svalue %d differs: got %.10g, expected %.10g (tol %g)',
                          what and what .. ': ' or '', i, fa[i], fe[i], tol), 2)
    end
  end
  return true
end

-- Asserts that fn(...) raises, and that the message contains every plain string given.
function check.raises(fn, ...)
  local ok, err = pcall(fn)
  if ok then error('expected an error, but the call succeeded', 2) end
  err = tostring(err)
  for _, needle in ipairs { ... } do
    if not err:find(needle, 1, true) then
      error(string.format('error message %q does not contain %q', err, needle), 2)
    end
  end
  return err
end

-- Builds a nested table of the given shape whose element at flat position i is fn(i).
function check.build(shape, fn)
  local pos = 0
  local function level(d)
    if d > #shape then
      pos = pos + 1
      return fn(pos)
    end
    local t = {}
    for i = 1, shape[d] do t[i] = level(d + 1) end
    return t
  end
  return level(1)
end

return check

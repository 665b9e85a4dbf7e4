-- lc.models: torchvision's ResNets. The state dict names, order, dtypes and shapes are
-- compared with lists written by torchvision itself (tests/fixtures/torchvision_*_keys.txt),
-- the parameter counts with torchvision's, and weights cross the boundary both ways through
-- safetensors files: a file made by PyTorch loads and gives PyTorch's logits (where Python has
-- torch; LUACNN_PYTHON names another interpreter command), and our checkpoints open in
-- Python's `safetensors` package (where it is installed). Skipped parts say so loudly.
local lc = require 'luacnn'
local files = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'helpers/files.lua')
local nn = lc.nn
local models = lc.models
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'

local function fixture_keys(arch)
  local out = {}
  for line in io.lines(dir .. 'fixtures/torchvision_' .. arch .. '_176_keys.txt') do
    if not line:match('^#') then
      local k, dt, shape = line:match('^(%S+) (%S+) ?(%S*)$')
      out[#out + 1] = {key = k, dtype = dt, shape = shape}
    end
  end
  return out
end

local function shape_text(t)
  local s = {}
  for i = 1, t:dim() do s[i] = tostring(t:size(i)) end
  return table.concat(s, 'x')
end

local tmpdir
local function tmp(name) return tmpdir .. '/' .. name end

local function python()
  return os.getenv('LUACNN_PYTHON') or 'python3'
end

-- Runs a Python program; returns its output, or nil and why when it could not run.
local function run_python(code)
  local script = tmp('prog.py')
  local f = assert(io.open(script, 'w'))
  f:write(code)
  f:close()
  local p = io.popen(python() .. ' ' .. script .. ' 2>&1; echo "rc=$?"')
  local out = p:read('a')
  p:close()
  local rc = tonumber(out:match('rc=(%d+)%s*$'))
  return out, rc
end

local function python_has(modules)
  local _, rc = run_python('import ' .. modules .. '\n')
  return rc == 0
end

local function skip(what, why)
  io.stderr:write('\n*** SKIPPED: ', what, ' because ', why, ' ***\n')
  print('SKIPPED: ' .. what .. ' because ' .. why)
  pending(what .. ': ' .. why)
end

describe('lc.models', function()
  setup(function() tmpdir = files.tempdir() end)
  teardown(function() files.rmtree(tmpdir) end)

  for _, arch in ipairs{'resnet18', 'resnet34', 'resnet50'} do
    it(arch .. "'s state dict has torchvision's names, order, dtypes and shapes", function()
      local net = models[arch]{num_classes = 176}
      local sd = net:state_dict()
      local keys = nn.state_dict_keys(sd)
      local want = fixture_keys(arch)
      assert.are.equal(#want, #keys)
      for i, w in ipairs(want) do
        assert.are.equal(w.key, keys[i])
        local t = sd[w.key]
        assert.are.equal(w.dtype, t.dtype, w.key)
        assert.are.equal(w.shape, shape_text(t), w.key)
      end
    end)
  end

  it("has torchvision's parameter counts for 1000 classes", function()
    assert.are.equal(11689512, models.resnet18():num_parameters())
    assert.are.equal(21797672, models.resnet34():num_parameters())
    assert.are.equal(25557032, models.resnet50():num_parameters())
  end)

  it('maps (2, 3, 64, 64) to (2, 176) logits in train and eval mode; in_channels = 1 too', function()
    local net = models.resnet18{num_classes = 176}
    local y = net(lc.randn({2, 3, 64, 64}))
    assert.are.same({2, 176}, {y:size(1), y:size(2)})
    net:eval()
    y = lc.no_grad(function() return net(lc.randn({2, 3, 64, 64})) end)
    assert.are.same({2, 176}, {y:size(1), y:size(2)})
    local gray = models.resnet18{num_classes = 10, in_channels = 1}
    local g = gray(lc.randn({2, 1, 32, 32}))
    assert.are.same({2, 10}, {g:size(1), g:size(2)})
    local ok, err = pcall(gray, lc.randn({1, 3, 32, 32}))
    assert.is_false(ok)
    assert.matches('expected input %(N, 1, H, W%)', err)
  end)

  it("initialises as torchvision: kaiming_normal fan_out for convs, BN 1/0, zero_init_residual", function()
    lc.manual_seed(1)
    local net = models.resnet18{num_classes = 176}
    -- layer4.0.conv2: 512 x 512 x 3 x 3, fan_out = 512 * 9
    local w = net.layer4[1].conv2.weight
    local std = w:std():item()
    assert.is_true(math.abs(std - math.sqrt(2 / (512 * 9))) < 0.02 * std, 'std ' .. std)
    assert.is_true(math.abs(w:mean():item()) < 0.01 * std)
    assert.are.equal(1, net.bn1.weight:min():item())
    assert.are.equal(0, net.layer1[1].bn2.bias:abs():max():item())
    assert.is_nil(net.conv1.bias)
    local z = models.resnet50{num_classes = 5, zero_init_residual = true}
    assert.are.equal(0, z.layer2[1].bn3.weight:abs():max():item())
    assert.are.equal(1, z.layer2[1].bn2.weight:min():item())
    -- the head keeps PyTorch's Linear default: U(-1/sqrt(512), 1/sqrt(512))
    assert.is_true(net.fc.weight:abs():max():item() <= 1 / math.sqrt(512) + 1e-7)
  end)

  it('rejects bad options with a message naming them', function()
    local ok, err = pcall(models.resnet18, {num_class = 3})
    assert.is_false(ok)
    assert.matches("unknown option 'num_class'", err)
    ok, err = pcall(models.resnet18, {num_classes = 0})
    assert.is_false(ok)
    assert.matches('num_classes must be a positive integer', err)
    ok, err = pcall(models.build, 'resnet19')
    assert.is_false(ok)
    assert.matches("unknown architecture 'resnet19'", err)
  end)

  it('load_pretrained: a 1000-class file into a 176-class net re-initialises the head and says so', function()
    lc.manual_seed(2)
    local src = models.resnet18()
    lc.no_grad(function() src.layer3[2].bn1.running_mean:fill_(0.25) end)
    local file = tmp('imagenet.safetensors')
    -- a torchvision file without num_batches_tracked entries (older exports) loads as well
    local sd = src:state_dict()
    local keys, map = {}, {}
    for _, k in ipairs(nn.state_dict_keys(sd)) do
      if not k:match('num_batches_tracked$') then keys[#keys + 1] = k; map[k] = sd[k] end
    end
    lc.save(file, nn.ordered_dict(keys, map))
    local net = models.resnet18{num_classes = 176}
    local head_before = net.fc.weight:clone()
    local info = models.load_pretrained(net, file, {quiet = true})
    assert.is_true(info.head_reset)
    assert.are.equal(2, #info.skipped)
    assert.are.equal('fc.weight', info.skipped[1][1])
    assert.are.equal(#keys - 2, info.loaded)
    assert.matches('the head %(fc%) has 1000 outputs in .* and 176 in the model', info.messages[1])
    assert.are.equal(0, (net.conv1.weight - src.conv1.weight):abs():max():item())
    assert.are.equal(0.25, net.layer3[2].bn1.running_mean:max():item())
    -- fresh head: not the previous values, within the default bound
    assert.is_true((net.fc.weight - head_before):abs():max():item() > 0)
    assert.is_true(net.fc.weight:abs():max():item() <= 1 / math.sqrt(512) + 1e-7)
    -- another mismatch is an error naming the key (strict), skipped when not strict
    local r34 = models.resnet34{num_classes = 1000}
    local ok, err = pcall(models.load_pretrained, r34, file, {quiet = true})
    assert.is_false(ok)
    assert.matches('missing in the file: layer1.2.conv1.weight', err)
    local info2 = models.load_pretrained(r34, file, {quiet = true, strict = false})
    assert.is_true(#info2.missing > 0 and info2.loaded > 0)
    -- a gray model from RGB weights: the filters summed over the colour channels
    local gray = models.resnet18{num_classes = 1000, in_channels = 1}
    local info3 = models.load_pretrained(gray, file, {quiet = true})
    assert.are.equal(#keys, info3.loaded)
    assert.matches('conv1.weight has 3 input channels', info3.messages[1])
    local want = src.conv1.weight:sum(2, {keepdim = true})
    assert.is_true((gray.conv1.weight - want):abs():max():item() < 1e-6)
  end)

  it('load_pretrained: a PyTorch-made torchvision file gives the logits PyTorch computed', function()
    if not python_has('torch, torchvision, safetensors') then
      skip('the PyTorch cross-check', python() .. ' cannot import torch, torchvision and safetensors')
      return
    end
    local out, rc = run_python(string.format([[
import torch, torchvision
from safetensors.torch import save_file
torch.manual_seed(0)
m = torchvision.models.resnet18(num_classes=176)
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.normal_(0, 0.1); mod.running_var.uniform_(0.5, 1.5)
            mod.weight.uniform_(0.5, 1.5); mod.bias.normal_(0, 0.1)
m.eval()
x = torch.randn(2, 3, 64, 64)
save_file({k: v.contiguous() for k, v in m.state_dict().items()}, '%s')
save_file({'x': x, 'y': m(x).detach()}, '%s')
]], tmp('tv.safetensors'), tmp('tv_io.safetensors')))
    assert.are.equal(0, rc, out)
    local net = models.resnet18{num_classes = 176}
    local info = models.load_pretrained(net, tmp('tv.safetensors'), {quiet = true})
    assert.is_false(info.head_reset)
    net:eval()
    local ref = lc.load(tmp('tv_io.safetensors'))
    local y = lc.no_grad(function() return net(ref.x) end)
    local diff = (y - ref.y):abs():max():item()
    assert.is_true(diff < 1e-4, 'max |ours - PyTorch| = ' .. diff)
  end)

  it("our checkpoints open in Python's safetensors package with the same names and values", function()
    if not python_has('safetensors, numpy') then
      skip("the Python safetensors check", python() .. ' cannot import safetensors and numpy')
      return
    end
    local net = models.resnet18{num_classes = 176}
    local file = tmp('ours.safetensors')
    lc.io.save_checkpoint(file, {model = net, extra = {classes = {'a', 'b'}, size = 64}})
    local out, rc = run_python(string.format([[
import json
from safetensors import safe_open
with safe_open('%s', 'np') as f:
    keys = list(f.keys())
    meta = f.metadata()
    w = f.get_tensor('layer2.0.downsample.0.weight')
    n = f.get_tensor('bn1.num_batches_tracked')
print(len(keys), 'conv1.weight' in keys, w.shape, w.dtype, n.dtype, repr(float(w.sum())))
print(json.loads(meta['luacnn.extra'])['classes'])
]], file))
    assert.are.equal(0, rc, out)
    assert.matches('^122 True %(128, 64, 1, 1%) float32 int64', out)
    local s = tonumber(out:match("float32 int64 ([-%d.e]+)"))
    local mine = net.layer2[1].downsample[1].weight:to('float64'):sum():item()
    assert.is_true(math.abs(s - mine) < 1e-4, s .. ' vs ' .. mine)
    assert.matches("%['a', 'b'%]", out)
  end)
end)

-- lc.models: ResNets with torchvision's architecture, parameter names and initialisation, so
-- that weights saved from torchvision with the `safetensors` package load directly.
--
--   local net = lc.models.resnet18{num_classes = 176}          -- also resnet34, resnet50
--   local net = lc.models.resnet18{in_channels = 1, zero_init_residual = true}
--   local info = lc.models.load_pretrained(net, 'resnet18.safetensors')   -- see below
--   lc.models.build('resnet18', opts)                          -- by name (checkpoints)
--
-- State dict keys are torchvision's exactly: conv1.weight, bn1.{weight, bias, running_mean,
-- running_var, num_batches_tracked}, layer1.0.conv1.weight, layer2.0.downsample.0.weight,
-- layer2.0.downsample.1.running_var, ..., fc.weight, fc.bias (block indices 0-based inside
-- layerN, as torchvision's nn.Sequential names them). Convolutions have no bias. ResNet-50
-- uses torchvision's Bottleneck (v1.5: the stride on the 3x3 convolution).
-- Initialisation as torchvision: convolutions kaiming_normal_(fan_out, relu), batch norms
-- weight 1 and bias 0, the Linear head PyTorch's default; zero_init_residual = true zeroes
-- the last batch norm's weight of every block.
local lc = require 'luacnn'
local nn = lc.nn
local options = require 'luacnn.options'

local models = {}

-- A Sequential whose children are named 0, 1, 2, ... as torchvision's.
local function seq0(list)
  local s = nn.Sequential()
  for i, m in ipairs(list) do s:add(m, tostring(i - 1)) end
  return s
end
models.Sequential0 = seq0

local function conv3x3(cin, cout, stride)
  return nn.Conv2d(cin, cout, 3, {stride = stride or 1, padding = 1, bias = false})
end

local function conv1x1(cin, cout, stride)
  return nn.Conv2d(cin, cout, 1, {stride = stride or 1, bias = false})
end

-- ---- blocks ----

local BasicBlock = nn.Module:extend 'BasicBlock'
BasicBlock.expansion = 1
models.BasicBlock = BasicBlock

function BasicBlock:init(inplanes, planes, stride, downsample)
  self.conv1 = conv3x3(inplanes, planes, stride)
  self.bn1 = nn.BatchNorm2d(planes)
  self.relu = nn.ReLU()
  self.conv2 = conv3x3(planes, planes)
  self.bn2 = nn.BatchNorm2d(planes)
  if downsample then self.downsample = downsample end
  self.stride = stride or 1
end

function BasicBlock:forward(x)
  local out = lc.relu(self.bn1(self.conv1(x)))
  out = self.bn2(self.conv2(out))
  local identity = self.downsample and self.downsample(x) or x
  return lc.relu(out + identity)
end

function BasicBlock:last_bn() return self.bn2 end

local Bottleneck = nn.Module:extend 'Bottleneck'
Bottleneck.expansion = 4
models.Bottleneck = Bottleneck

function Bottleneck:init(inplanes, planes, stride, downsample)
  local width = planes
  self.conv1 = conv1x1(inplanes, width)
  self.bn1 = nn.BatchNorm2d(width)
  self.conv2 = conv3x3(width, width, stride)
  self.bn2 = nn.BatchNorm2d(width)
  self.conv3 = conv1x1(width, planes * 4)
  self.bn3 = nn.BatchNorm2d(planes * 4)
  self.relu = nn.ReLU()
  if downsample then self.downsample = downsample end
  self.stride = stride or 1
end

function Bottleneck:forward(x)
  local out = lc.relu(self.bn1(self.conv1(x)))
  out = lc.relu(self.bn2(self.conv2(out)))
  out = self.bn3(self.conv3(out))
  local identity = self.downsample and self.downsample(x) or x
  return lc.relu(out + identity)
end

function Bottleneck:last_bn() return self.bn3 end

-- ---- the network ----

local ResNet = nn.Module:extend 'ResNet'
models.ResNet = ResNet

local function check_opts(who, opts)
  opts = options.check('models.' .. who, opts, {'num_classes', 'in_channels', 'zero_init_residual'}, 3)
  for _, k in ipairs{'num_classes', 'in_channels'} do
    local v = opts[k]
    if v ~= nil and (math.type(v) ~= 'integer' or v < 1) then
      error(string.format('models.%s: %s must be a positive integer, got %s', who, k, tostring(v)), 3)
    end
  end
  return opts
end

-- ResNet(block, {2, 2, 2, 2}, opts): torchvision's ResNet class; opts: num_classes (1000),
-- in_channels (3), zero_init_residual, arch (the name it prints, e.g. 'resnet18').
function ResNet:init(block, layers, opts)
  opts = options.check('ResNet', opts, {'num_classes', 'in_channels', 'zero_init_residual', 'arch'})
  self.arch = opts.arch
  self.num_classes = opts.num_classes or 1000
  self.in_channels = opts.in_channels or 3
  self.inplanes = 64
  self.conv1 = nn.Conv2d(self.in_channels, 64, 7, {stride = 2, padding = 3, bias = false})
  self.bn1 = nn.BatchNorm2d(64)
  self.relu = nn.ReLU()
  self.maxpool = nn.MaxPool2d(3, {stride = 2, padding = 1})
  local widths = {64, 128, 256, 512}
  for i = 1, 4 do
    self['layer' .. i] = self:_make_layer(block, widths[i], layers[i], i == 1 and 1 or 2)
  end
  self.avgpool = nn.AdaptiveAvgPool2d({1, 1})
  self.fc = nn.Linear(512 * block.expansion, self.num_classes)
  self:_init_weights(opts.zero_init_residual)
end

function ResNet:_make_layer(block, planes, blocks, stride)
  local downsample
  if stride ~= 1 or self.inplanes ~= planes * block.expansion then
    downsample = seq0{conv1x1(self.inplanes, planes * block.expansion, stride),
                      nn.BatchNorm2d(planes * block.expansion)}
  end
  local list = {block(self.inplanes, planes, stride, downsample)}
  self.inplanes = planes * block.expansion
  for _ = 2, blocks do list[#list + 1] = block(self.inplanes, planes) end
  return seq0(list)
end

function ResNet:_init_weights(zero_init_residual)
  for _, m in ipairs(self:modules()) do
    if m:is_a(nn.Conv2d) then
      nn.init.kaiming_normal_(m.weight, {mode = 'fan_out', nonlinearity = 'relu'})
    elseif m:is_a(nn.BatchNorm2d) then
      nn.init.ones_(m.weight)
      nn.init.zeros_(m.bias)
    end
  end
  if zero_init_residual then
    for _, m in ipairs(self:modules()) do
      if m:is_a(BasicBlock) or m:is_a(Bottleneck) then nn.init.zeros_(m:last_bn().weight) end
    end
  end
end

-- A fresh head (PyTorch's default Linear initialisation), e.g. after loading weights of
-- another task. num_classes: a new size (default: keep the size).
function ResNet:reset_head(num_classes)
  local fc = self.fc
  num_classes = num_classes or fc.out_features
  local p = fc.weight
  self.fc = nn.Linear(fc.in_features, num_classes, {dtype = p.dtype, device = p.device})
  self.num_classes = num_classes
  return self.fc
end

function ResNet:features(x)
  x = self.maxpool(lc.relu(self.bn1(self.conv1(x))))
  x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
  return self.avgpool(x):flatten(2)
end

function ResNet:forward(x)
  if x:dim() ~= 4 or x:size(2) ~= self.in_channels then
    error(string.format('%s: expected input (N, %d, H, W), got shape %s', self.arch or 'ResNet',
                        self.in_channels, tostring(x:shape())), 0)
  end
  return self.fc(self:features(x))
end

local archs = {
  resnet18 = {BasicBlock, {2, 2, 2, 2}},
  resnet34 = {BasicBlock, {3, 4, 6, 3}},
  resnet50 = {Bottleneck, {3, 4, 6, 3}},
}
models.archs = {'resnet18', 'resnet34', 'resnet50'}

for name, spec in pairs(archs) do
  models[name] = function(opts)
    opts = check_opts(name, opts)
    return ResNet(spec[1], spec[2], {arch = name, num_classes = opts.num_classes,
                                     in_channels = opts.in_channels,
                                     zero_init_residual = opts.zero_init_residual})
  end
end

-- models.build('resnet18', opts): by name, as checkpoints record the architecture.
function models.build(name, opts)
  if not archs[name] then
    error(string.format("models.build: unknown architecture '%s' (%s)", tostring(name),
                        table.concat(models.archs, ', ')), 2)
  end
  return models[name](opts)
end

-- ---- pretrained weights ----

local function shape_str(t) return tostring(t:shape()) end

-- load_pretrained(net, path_or_state_dict [, {strict = true, head = 'fc', quiet = false}])
-- Loads torchvision-named weights (a safetensors file saved by PyTorch's `safetensors`
-- package, or a state dict). `num_batches_tracked` entries are accepted whether or not the
-- file has them. When the head's shape differs (another number of classes) the head keeps
-- a fresh initialisation; when conv1 has 3 input channels and the net another number, the
-- RGB filters are summed (1 channel) or repeated and rescaled (others). Anything else that
-- differs is an error (strict) or skipped (strict = false). Returns
-- {loaded = n, skipped = {{key, reason}...}, missing = {...}, unexpected = {...},
--  head_reset = bool, messages = {...}}; messages are printed unless quiet.
function models.load_pretrained(net, src, opts)
  opts = options.check('load_pretrained', opts, {'strict', 'head', 'quiet'}, 2)
  local strict = opts.strict ~= false
  local head = opts.head or 'fc'
  local sd = src
  if type(src) == 'string' then sd = lc.load(src) end
  if type(sd) ~= 'table' then
    error('load_pretrained: expected a file path or a state dict, got ' .. type(src), 2)
  end
  local name = type(src) == 'string' and src or 'state dict'
  local own = net:state_dict({keep_vars = true})
  local own_keys = nn.state_dict_keys(own)
  local info = {loaded = 0, skipped = {}, missing = {}, unexpected = {}, head_reset = false,
                messages = {}}
  local copies = {}
  local problems = {}
  local head_prefix = head .. '.'
  local head_mismatch = false
  for _, k in ipairs(own_keys) do
    local v = sd[k]
    local mine = own[k]
    if v == nil then
      if not k:match('num_batches_tracked$') then info.missing[#info.missing + 1] = k end
    elseif not lc.is_tensor(v) then
      problems[#problems + 1] = string.format('%s is a %s, not a tensor', k, type(v))
    elseif v:shape() == mine:shape() then
      copies[#copies + 1] = {mine, v}
    elseif k:sub(1, #head_prefix) == head_prefix then
      head_mismatch = true
      info.skipped[#info.skipped + 1] = {k, string.format('shape %s in the file, %s in the model',
                                                          shape_str(v), shape_str(mine))}
    elseif k == 'conv1.weight' and v:dim() == 4 and mine:dim() == 4 and v:size(1) == mine:size(1)
           and v:size(3) == mine:size(3) and v:size(4) == mine:size(4) then
      -- another number of input channels: keep the filters' response to a gray image
      local cin_file, cin = v:size(2), mine:size(2)
      local w = v:to('float32'):sum(2, {keepdim = true})
      if cin ~= 1 then w = (w / cin):expand({v:size(1), cin, v:size(3), v:size(4)}):contiguous() end
      copies[#copies + 1] = {mine, w}
      info.messages[#info.messages + 1] = string.format(
        'load_pretrained: conv1.weight has %d input channels in %s and %d in the model: the ' ..
        'filters were summed over the channels%s', cin_file, name, cin,
        cin == 1 and '' or (' and spread evenly over the ' .. cin))
    else
      local reason = string.format('shape %s in the file, %s in the model', shape_str(v), shape_str(mine))
      if strict then
        problems[#problems + 1] = 'size mismatch for ' .. k .. ': ' .. reason
      else
        info.skipped[#info.skipped + 1] = {k, reason}
      end
    end
  end
  for _, k in ipairs(nn.state_dict_keys(sd)) do
    if own[k] == nil and not k:match('num_batches_tracked$') then
      info.unexpected[#info.unexpected + 1] = k
    end
  end
  if strict then
    if #info.missing > 0 then
      problems[#problems + 1] = 'missing in the file: ' .. table.concat(info.missing, ', ')
    end
    if #info.unexpected > 0 then
      problems[#problems + 1] = 'not in the model: ' .. table.concat(info.unexpected, ', ')
    end
  end
  if #problems > 0 then
    error(string.format('load_pretrained: %s does not fit the model:\n\t%s', name,
                        table.concat(problems, '\n\t')), 2)
  end
  lc.no_grad(function()
    for _, c in ipairs(copies) do c[1]:copy_(c[2]) end
  end)
  info.loaded = #copies
  if head_mismatch then
    info.head_reset = true
    local fc = net[head]
    if fc and fc.reset_parameters then fc:reset_parameters() end
    local file_w = sd[head_prefix .. 'weight']
    info.messages[#info.messages + 1] = string.format(
      'load_pretrained: the head (%s) has %d outputs in %s and %d in the model: it was not ' ..
      'loaded and keeps a fresh initialisation', head, file_w and file_w:size(1) or -1, name,
      fc and fc.weight and fc.weight:size(1) or -1)
  end
  if not opts.quiet then
    for _, m in ipairs(info.messages) do print(m) end
  end
  return info
end

-- init_from(net, path [, opts]): load_pretrained with its messages printed, the usual way to
-- start training from torchvision weights (opts as load_pretrained's, checked there).
function models.init_from(net, path, opts)
  return models.load_pretrained(net, path, opts)
end

return models

-- lc.nn: modules, containers, layers, losses and initialisers, with PyTorch's names,
-- semantics and defaults in a 1-based world. See module.lua for the Module system.
local module = require 'luacnn.nn.module'

local nn = {
  Module = module.Module,
  Parameter = module.Parameter,
  is_parameter = module.is_parameter,
  is_module = module.is_module,
  state_dict_keys = module.state_dict_keys,
  ordered_dict = module.ordered_dict,
}

for _, part in ipairs{'containers', 'conv', 'linear', 'pooling', 'norm', 'activation', 'loss'} do
  for name, value in pairs(require('luacnn.nn.' .. part)) do
    if type(value) == 'table' then nn[name] = value end
  end
end
nn.class_name = module.class_name

nn.init = require 'luacnn.nn.initializers'
-- in lib/luacnn/dist.lua with the rest of lc.dist (loaded on first use)
function nn.DistributedDataParallel(net, opts)
  return require('luacnn.dist').DistributedDataParallel(net, opts)
end
nn.functional = require 'luacnn.functional'

return nn

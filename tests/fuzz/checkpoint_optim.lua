-- Fuzz target: the optimizer document of a training checkpoint (the JSON under the
-- 'luacnn.optimizer' metadata key of PATH.optim.safetensors), loaded through
-- lc.io.load_checkpoint into a model, an Adam optimizer and a StepLR scheduler. The input's
-- first byte picks SGD (momentum) or Adam; the rest is the document. Allowed: success, or a
-- clean error from load_checkpoint or the optimizer/scheduler it hands the state to. After a
-- successful load, one training step must still work or fail cleanly.
local lc = require 'luacnn'
local nn = lc.nn
local C = require 'fuzz_common'

lc.manual_seed(0)
local function make(which)
  local net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
  local opt = which == 0 and lc.optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9})
              or lc.optim.Adam(net:parameters(), {lr = 0.01})
  local sched = lc.optim.lr_scheduler.StepLR(opt, {step_size = 2})
  return net, opt, sched
end
local x, y = lc.randn(4, 3), lc.randn(4, 1)
local function step(net, opt, sched)
  opt:zero_grad()
  local loss = ((net(x) - y) ^ 2):mean()
  loss:backward()
  opt:step()
  sched:step()
end

-- the model file and the tensors of a real optimizer state, made once
-- (one model file per optimizer kind: the optimizer file must carry its checkpoint id)
local tensors, ids, paths = {}, {}, {}
for which = 0, 1 do
  local net, opt, sched = make(which)
  step(net, opt, sched)
  paths[which] = C.dir .. '/ckpt' .. which .. '.safetensors'
  lc.io.save_checkpoint(paths[which], {model = net, optimizer = opt, scheduler = sched, extra = {epoch = 1}})
  local meta
  tensors[which], meta = lc.load(lc.io.optimizer_path(paths[which]))
  ids[which] = meta['luacnn.checkpoint_id']
end

local prefixes = {'load_checkpoint: ', 'load: ', 'SGD:load_state_dict: ', 'Adam:load_state_dict: ',
                  'StepLR:load_state_dict: ', 'SGD: ', 'Adam: ', 'StepLR: '}

return function(bytes)
  local which = #bytes > 0 and bytes:byte(1) % 2 or 0
  local doc = bytes:sub(2)
  lc.save(lc.io.optimizer_path(paths[which]), tensors[which],
          {['luacnn.optimizer'] = doc, ['luacnn.checkpoint_id'] = ids[which]})
  local net, opt, sched = make(which)
  local ok = C.allowed(prefixes, lc.io.load_checkpoint, paths[which], {model = net, optimizer = opt, scheduler = sched})
  if ok then C.allowed(prefixes, step, net, opt, sched) end
end

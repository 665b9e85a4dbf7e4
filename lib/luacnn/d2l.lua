-- d2l's helpers for the CNN chapter, so that ported programs read like the book:
--
--   local d2l = lc.d2l
--   d2l.accuracy(y_hat, y)                  number of correct predictions (a Lua number)
--   d2l.correct(y_hat, y)                   the same as a one-element tensor on y's device
--   d2l.evaluate_accuracy(net, iter, dev)   accuracy over an iterator (eval mode, no grad)
--   d2l.Accumulator(n), d2l.Timer()         as the book's
--   d2l.try_gpu(i), d2l.try_all_gpus()      'cuda:0' when there is a GPU, else 'cpu'
--   d2l.device(name)                        'auto' -> try_gpu(), anything else as given
--   d2l.load_data_fashion_mnist(batch_size, resize, opts)   lc.data.fashion_mnist, book-shaped
--   d2l.train_ch6(net, train_iter, test_iter, num_epochs, lr, device [, opts])
--
-- train_ch6 does what the book's does (Xavier-uniform init of every Linear and Conv2d
-- weight, SGD, cross-entropy, test accuracy after every epoch) and prints the book's closing
--   loss 0.417, train acc 0.847, test acc 0.836
--   36144.9 examples/sec on cuda:0
-- with, on a terminal, a progress line redrawn in place (batches done, examples/sec, the
-- epoch's ETA), and otherwise one plain line per epoch and, inside long epochs, a plain
-- progress line every few seconds. Every epoch goes to a run folder (luacnn.run: metrics.csv, curves.png, summary).
-- opts:
--   settings   the script's lc.args table: the run folder honours --run_dir and records them
--   run        a luacnn.run object to log into, or false for no run folder (default: start one)
--   init       false keeps the net's own initialisation (default: Xavier uniform as d2l)
--   optimizer  an optimizer to use instead of optim.SGD(net:parameters(), {lr = lr})
--   loss       a loss module instead of nn.CrossEntropyLoss()
--   scheduler  stepped once per epoch, after the optimizer's steps
--   progress   true / false / 'auto' (default: a live line when stdout is a terminal;
--              the environment variable LUACNN_PROGRESS=0 or 1 overrides 'auto')
--   progress_interval  seconds between the plain progress lines inside an epoch when the
--              live line is off (default 5; $LUACNN_PROGRESS_INTERVAL overrides)
--   quiet      print nothing
--   max_batches  stop each epoch after this many batches (quick checks)
--   on_epoch   function(row, net) called after each epoch with its metrics
--   script     the script's name for the run folder (default: the running file's)
--   split_batch  false keeps the whole batch on each rank under mpirun (default: split it)
-- A misspelt option is an error naming the nearest ("train_ch6: unknown option 'max_batch'
-- (did you mean 'max_batches'?)"), as every options table of luacnn (luacnn.options).
-- It returns the final metrics: {train_loss, train_acc, test_acc, examples_per_sec, epochs,
-- train_seconds, run_dir, history = {rows}}.
--
-- Loss and accuracy are summed on the training device (Accumulator keeps tensors as
-- tensors) and read back once per epoch, or once per refresh of the progress line, so a
-- training step never waits for the device (see architecture.md, "Design for capture").
-- Ctrl-C (the error "interrupted!") stops training after the run folder has what was
-- finished: metrics, curves and a summary marked 'interrupted'; the error is re-raised.
local lc = require 'luacnn'
local run = require 'luacnn.run'
local options = require 'luacnn.options'

local d2l = {}

d2l.try_gpu = lc.try_gpu
d2l.try_all_gpus = lc.try_all_gpus

-- 'auto' (or nil) picks the GPU when there is one; any other name is used as given.
function d2l.device(name)
  if name == nil or name == 'auto' then return lc.try_gpu() end
  return name
end

-- nil when the device name can be used here, else why not, in one line that says how to
-- check (for --device: refused before any work, not after 'training on cuda').
function d2l.check_device(name)
  if name == nil or name == 'auto' or name == 'cpu' then return nil end
  local index = name == 'cuda' and '0' or tostring(name):match('^cuda:(%d+)$')
  if not index then
    return "expected 'auto', 'cpu', 'cuda' or 'cuda:N'"
  end
  local count = lc.cuda.device_count()
  if count == 0 then
    local why = lc.cuda.unavailable_reason and lc.cuda.unavailable_reason() or 'built without CUDA'
    local short = require('luacnn.repl').short_cuda_reason(why)
    local how = short == 'built without CUDA' and
      '`luacnn --version` says what the build has; rebuild where nvcc is found to use a GPU' or
      '`nvidia-smi` lists the GPUs the driver sees'
    return string.format('there is no GPU here (CPU only: %s); %s. Use --device cpu, or auto ' ..
                         '(a GPU when there is one)', short, how)
  end
  if tonumber(index) >= count then
    return string.format('this machine has %d GPU%s (cuda:0%s)', count, count == 1 and '' or 's',
                         count > 1 and (' to cuda:' .. (count - 1)) or '')
  end
  return nil
end

-- Wall-clock seconds: the core's monotonic clock when it has one, else the kernel's uptime
-- (10 ms resolution: enough for epochs and progress lines). Elapsed times are never taken
-- as shorter than half the resolution, so a very short epoch cannot claim infinite speed.
local core = require 'luacnn.core'
local now, resolution
if type(core.clock) == 'function' then
  now, resolution = core.clock, 1e-6
else
  now, resolution = run.now, 0.01
end
d2l.now = now

local function since(t0) return math.max(now() - t0, resolution / 2) end

---------------------------------------------------------------- data

-- d2l's load_data_fashion_mnist: lc.data.fashion_mnist with the book's argument order.
-- opts: subset, root, shuffle, device (see luacnn.data); batch_size and resize are arguments.
function d2l.load_data_fashion_mnist(batch_size, resize, opts)
  local o = {}
  for k, v in pairs(options.check('load_data_fashion_mnist', opts, {'subset', 'root', 'shuffle', 'device'}, 2)) do
    o[k] = v
  end
  o.batch_size, o.resize = batch_size, resize
  return lc.data.fashion_mnist(o)
end

---------------------------------------------------------------- Timer

local Timer = {}
Timer.__index = Timer
Timer.__name = 'd2l.Timer'

-- A Timer records the time between start() and stop(); it starts when made, as d2l's.
function d2l.Timer()
  local t = setmetatable({times = {}}, Timer)
  t:start()
  return t
end

function Timer:start() self.tik = now() end

function Timer:stop()
  local dt = since(self.tik)
  self.times[#self.times + 1] = dt
  return dt
end

function Timer:sum()
  local s = 0
  for _, v in ipairs(self.times) do s = s + v end
  return s
end

function Timer:avg()
  if #self.times == 0 then return 0 end
  return self:sum() / #self.times
end

function Timer:cumsum()
  local out, s = {}, 0
  for i, v in ipairs(self.times) do s = s + v; out[i] = s end
  return out
end

---------------------------------------------------------------- Accumulator

-- n running sums. add() takes numbers and tensors alike: numbers are summed in Lua, tensors
-- on their own device (in float64), so adding never waits for a GPU. Reading a sum
-- (metric[i] or metric:get(i)) is the one point where the device is waited for.
local Accumulator = {}
Accumulator.__name = 'd2l.Accumulator'

Accumulator.__index = function(self, k)
  if math.type(k) == 'integer' then return Accumulator.get(self, k) end
  return Accumulator[k]
end

Accumulator.__len = function(self) return rawget(self, 'n') end

function d2l.Accumulator(n)
  if math.type(n) ~= 'integer' or n < 1 then
    error('Accumulator: expected the number of sums (a positive integer), got ' .. tostring(n), 2)
  end
  local self = setmetatable({n = n, host = {}, dev = {}}, Accumulator)
  self:reset()
  return self
end

function Accumulator:reset()
  for i = 1, self.n do self.host[i] = 0; self.dev[i] = nil end
  return self
end

function Accumulator:add(...)
  local given = select('#', ...)
  if given ~= self.n then
    error(string.format('Accumulator:add: expected %d values, got %d', self.n, given), 2)
  end
  for i = 1, self.n do
    local v = select(i, ...)
    if lc.is_tensor(v) then
      v = v:detach()
      if v:numel() ~= 1 then v = v:sum() end
      if v.dtype ~= 'float64' then v = v:to('float64') end   -- counts arrive as int64
      local d = self.dev[i]
      if d == nil then
        self.dev[i] = lc.zeros(1, {dtype = 'float64', device = v.device}):add_(v:reshape(1))
      else
        d:add_(v:reshape(1))
      end
    elseif type(v) == 'number' then
      self.host[i] = self.host[i] + v
    else
      error(string.format('Accumulator:add: value %d must be a number or a tensor, got %s',
                          i, type(v)), 2)
    end
  end
  return self
end

function Accumulator:get(i)
  if math.type(i) ~= 'integer' or i < 1 or i > self.n then
    error(string.format('Accumulator: index %s is out of range 1..%d', tostring(i), self.n), 2)
  end
  local d = self.dev[i]
  return self.host[i] + (d and d:item() or 0)
end

-- All the sums as a list (one read per device sum).
function Accumulator:values()
  local out = {}
  for i = 1, self.n do out[i] = self:get(i) end
  return out
end

---------------------------------------------------------------- accuracy

-- Predicted classes: argmax over the classes of (N, C) scores, or y_hat itself when it
-- already holds one value per example.
local function predictions(y_hat, y)
  y_hat = y_hat:detach()
  if y_hat:dim() > 1 and y_hat:size(2) > 1 then return y_hat:argmax(2) end
  return y_hat:reshape(-1):to(y.dtype)
end

-- The number of correct predictions as a one-element tensor on y's device (no sync).
function d2l.correct(y_hat, y)
  if not lc.is_tensor(y_hat) or not lc.is_tensor(y) then
    error('accuracy: expected tensors (y_hat, y), got ' .. type(y_hat) .. ', ' .. type(y), 2)
  end
  local pred = predictions(y_hat, y)
  if pred:numel() ~= y:numel() then
    error(string.format('accuracy: %d predictions for %d labels (y_hat %s, y %s)', pred:numel(),
                        y:numel(), tostring(y_hat:shape()), tostring(y:shape())), 2)
  end
  return pred:eq(y:reshape(-1)):sum()
end

-- The number of correct predictions, as d2l.accuracy (a Lua number).
function d2l.accuracy(y_hat, y)
  return d2l.correct(y_hat, y):item()
end

local function first_param_device(net)
  local ok, params = pcall(function() return net:parameters() end)
  if ok and params and params[1] then return params[1].device end
  return 'cpu'
end

-- Accuracy of net over data_iter, in eval mode and without recording gradients
-- (d2l's evaluate_accuracy_gpu). The device defaults to that of the net's parameters.
function d2l.evaluate_accuracy(net, data_iter, device)
  if type(net) == 'table' and net.eval then net:eval() end
  device = device or first_param_device(net)
  local metric = d2l.Accumulator(2)
  lc.no_grad(function()
    for X, y in data_iter do
      X, y = X:to(device), y:to(device)
      metric:add(d2l.correct(net(X), y), y:numel())
    end
  end)
  local counts = metric:values()
  -- in a data-parallel run each rank saw its share: the counts of all ranks make the accuracy
  if lc.dist.world_size() > 1 then counts = lc.dist.all_reduce_numbers(counts, 'sum') end
  if counts[2] == 0 then
    error('evaluate_accuracy: the data iterator gave no examples', 2)
  end
  return counts[1] / counts[2]
end
d2l.evaluate_accuracy_gpu = d2l.evaluate_accuracy

---------------------------------------------------------------- progress display

local function stdout_is_terminal()
  local env = os.getenv('LUACNN_PROGRESS')
  if env == '0' or env == 'false' then return false end
  if env == '1' or env == 'true' then return true end
  return os.execute('test -t 1') == true
end

local BAR_WIDTH = 20

local function bar(done, total)
  local full = total > 0 and math.floor(BAR_WIDTH * done / total + 0.5) or BAR_WIDTH
  if full >= BAR_WIDTH then return string.rep('━', BAR_WIDTH) end
  -- the part still to come is dimmed, as in rich's and keras's bars
  return string.rep('━', full) .. '\27[2m' .. string.rep('━', BAR_WIDTH - full) .. '\27[0m'
end

local function fmt3(v) return string.format('%.3f', v) end

-- Seconds as 0:42, 12:05 or 1:02:03, for the ETA of an epoch.
function d2l.format_duration(sec)
  sec = math.max(0, math.floor(sec + 0.5))
  local h, m, s = sec // 3600, (sec % 3600) // 60, sec % 60
  if h > 0 then return string.format('%d:%02d:%02d', h, m, s) end
  return string.format('%d:%02d', m, s)
end

-- Seconds between the plain progress lines inside an epoch when stdout is not a terminal.
local function plain_interval(opts)
  local v = opts.progress_interval or tonumber(os.getenv('LUACNN_PROGRESS_INTERVAL') or '')
  return v or 5
end

---------------------------------------------------------------- train_ch6

local function is_instance(m, cls)
  return cls ~= nil and getmetatable(m) == cls
end

-- Xavier-uniform weights for Linear and Conv2d, as d2l's init_weights (biases keep their
-- defaults).
function d2l.init_weights(m)
  local nn = lc.nn
  if is_instance(m, nn.Linear) or is_instance(m, nn.Conv2d) then
    nn.init.xavier_uniform_(m.weight)
  end
end

local function check_args(net, train_iter, test_iter, num_epochs, lr)
  if type(net) ~= 'table' or type(net.parameters) ~= 'function' then
    error('train_ch6: expected a module as the net, got ' .. type(net), 3)
  end
  if train_iter == nil or test_iter == nil then
    error('train_ch6: expected train_iter and test_iter (from lc.data.fashion_mnist{...})', 3)
  end
  if math.type(num_epochs) ~= 'integer' or num_epochs < 1 then
    error('train_ch6: num_epochs must be a positive integer, got ' .. tostring(num_epochs), 3)
  end
  if type(lr) ~= 'number' or lr <= 0 then
    error('train_ch6: lr must be a positive number, got ' .. tostring(lr), 3)
  end
end

-- Batches per epoch of a loader or iterator, or nil when it cannot say (#iter is not an integer).
local function batch_count(iter)
  local ok, n = pcall(function() return #iter end)
  if ok and math.type(n) == 'integer' then return n end
  return nil
end
d2l.batch_count = batch_count

-- --run_dir DIR (or --run-dir, --run_dir=DIR) from the script's command line, for a script
-- that did not hand its lc.args settings to train_ch6.
local function run_dir_from_command_line()
  local a = rawget(_G, 'arg')
  if type(a) ~= 'table' then return nil end
  for i = 1, #a do
    local w = tostring(a[i])
    local name, value = w:match('^%-%-(run[-_]dir)=(.*)$')
    if name then return value end
    if w == '--run_dir' or w == '--run-dir' then return a[i + 1] end
  end
  return nil
end

-- The run folder to log into: opts.run, none (opts.run == false), or a new one recording
-- opts.settings (the script's lc.args table: its --run_dir is honoured); without settings,
-- the most recent lc.args table when luacnn.args can tell it, else the training arguments
-- and any --run_dir of the command line.
local function open_run(opts, num_epochs, lr, device)
  if opts.run == false then return nil end
  if opts.run ~= nil then return opts.run end
  local settings = opts.settings
  if settings == nil then
    local args_mod = package.loaded['luacnn.args']
    if type(args_mod) == 'table' and type(rawget(args_mod, 'current')) == 'function' then
      settings = args_mod.current()
    end
  end
  if settings == nil then
    settings = {epochs = num_epochs, lr = lr, device = device,
                run_dir = run_dir_from_command_line()}
  end
  return run.start{settings = settings, script = opts.script, quiet = opts.quiet}
end

-- Under mpirun (or luacnn --nproc N) with N > 1 processes, the same call trains data-parallel:
-- the net is wrapped in nn.DistributedDataParallel (rank 0's initial weights everywhere,
-- gradients averaged), each lc.data.DataLoader gives its rank a share of every epoch
-- (DataLoader:distribute; the batch size stays the global one, split over the ranks, so the
-- run takes the single process's steps), metrics are summed over the ranks, and only rank 0
-- prints, keeps the run folder and calls opts.on_epoch.
local function distribute(net, train_iter, test_iter, opts)
  local world = lc.dist.init()
  if world == 1 then return net end
  for _, it in ipairs{{train_iter, 'training'}, {test_iter, 'test'}} do
    if type(it[1]) ~= 'table' or type(it[1].distribute) ~= 'function' then
      error(string.format('train_ch6: with %d ranks the %s iterator must be an lc.data.DataLoader '
                          .. '(each rank takes its share through DataLoader:distribute), got %s',
                          world, it[2], type(it[1])), 0)
    end
  end
  train_iter:distribute{split_batch = opts.split_batch ~= false}
  if test_iter ~= train_iter then test_iter:distribute{eval = true} end
  return lc.nn.DistributedDataParallel(net)
end

-- the options of train_ch6 (its comment at the top of this file says what each does)
local train_ch6_options = {'settings', 'run', 'init', 'optimizer', 'loss', 'scheduler', 'progress',
                           'progress_interval', 'quiet', 'max_batches', 'on_epoch', 'script',
                           'split_batch'}

function d2l.train_ch6(net, train_iter, test_iter, num_epochs, lr, device, opts)
  check_args(net, train_iter, test_iter, num_epochs, lr)
  opts = options.check('train_ch6', opts, train_ch6_options, 2)
  device = d2l.device(device)
  local nn, optim = lc.nn, lc.optim
  local world, main = lc.dist.init(), lc.dist.rank() == 0
  local quiet = opts.quiet or not main
  local function say(...)
    if not quiet then io.stdout:write(...); io.stdout:flush() end
  end

  if opts.init ~= false then net:apply(d2l.init_weights) end
  say('training on ', device, world > 1 and string.format(' x %d ranks', world) or '', '\n')
  net:to(device)
  local model = distribute(net, train_iter, test_iter, opts)
  local optimizer = opts.optimizer or optim.SGD(net:parameters(), {lr = lr})
  local loss = opts.loss or nn.CrossEntropyLoss()
  local num_batches = batch_count(train_iter)
  if opts.max_batches and (not num_batches or opts.max_batches < num_batches) then
    num_batches = opts.max_batches
  end
  local progress = opts.progress
  if progress == nil or progress == 'auto' then progress = stdout_is_terminal() end
  if quiet then progress = false end

  local r = open_run(opts, num_epochs, lr, device)   -- on ranks other than 0 it writes nothing
  local history = {}
  local train_time, examples = 0, 0
  local line_open = false           -- a progress line is on screen without its newline
  local epoch_now, batch_now = 0, 0

  -- the time left in the epoch, from the batches done so far
  local function eta(i, elapsed)
    if not num_batches or i >= num_batches or i == 0 then return nil end
    return d2l.format_duration(elapsed / i * (num_batches - i))
  end

  local function draw(epoch, i, metric, test_acc, eps, elapsed)
    local n = metric:get(3)
    local text = string.format('epoch %d/%d %s %d/%s  loss %s  train acc %s', epoch, num_epochs,
                               bar(i, num_batches or i), i, num_batches or '?',
                               fmt3(metric:get(1) / math.max(n, 1)),
                               fmt3(metric:get(2) / math.max(n, 1)))
    if test_acc then text = text .. '  test acc ' .. fmt3(test_acc) end
    if eps then text = text .. string.format('  %.0f ex/s', eps) end
    local left = elapsed and eta(i, elapsed)
    if left then text = text .. '  ETA ' .. left end
    io.stdout:write('\r\27[K', text)
    io.stdout:flush()
    line_open = true
  end

  -- inside an epoch, when the live line is off: a plain line every few seconds
  local interval = plain_interval(opts)
  local function plain_line(epoch, i, metric, elapsed)
    local n = metric:get(3)
    local left = eta(i, elapsed)
    say(string.format('epoch %d/%d  batch %d/%s  loss %s  train acc %s  (%.1f examples/sec%s)\n',
                      epoch, num_epochs, i, num_batches or '?', fmt3(metric:get(1) / math.max(n, 1)),
                      fmt3(metric:get(2) / math.max(n, 1)), n / math.max(elapsed, resolution / 2),
                      left and (', ETA ' .. left) or ''))
  end

  local function train_epoch(epoch)
    epoch_now = epoch
    local metric = d2l.Accumulator(3)
    net:train()
    local t0 = now()
    local last_draw = t0
    local i = 0
    for X, y in train_iter do
      i = i + 1
      batch_now = i
      X, y = X:to(device), y:to(device)
      optimizer:zero_grad()
      local y_hat = model(X)
      local l = loss(y_hat, y)
      l:backward()
      optimizer:step()
      local n = X:size(1)
      -- on the device: the sums are read at the end of the epoch or when the line is redrawn
      metric:add(l:detach() * n, d2l.correct(y_hat, y), n)
      if progress then
        local t = now()
        if t - last_draw >= 0.2 then
          draw(epoch, i, metric, nil, metric:get(3) / since(t0), t - t0)
          last_draw = t
        end
      elseif not quiet and (not num_batches or i < num_batches) then
        local t = now()
        if t - last_draw >= interval then
          plain_line(epoch, i, metric, t - t0)
          last_draw = t
        end
      end
      if opts.max_batches and i >= opts.max_batches then break end
    end
    if i == 0 then error('train_ch6: the training iterator gave no batches', 0) end
    if opts.scheduler then opts.scheduler:step() end
    local sums = metric:values()   -- waits for the device: the epoch's time includes its work
    local dt = since(t0)
    if world > 1 then   -- every rank's examples, and the slowest rank's time
      sums = lc.dist.all_reduce_numbers(sums, 'sum')
      dt = lc.dist.all_reduce_number(dt, 'max')
    end
    return sums[1] / sums[3], sums[2] / sums[3], sums[3], dt, i
  end

  local function body()
    for epoch = 1, num_epochs do
      local train_l, train_acc, n, dt, nb = train_epoch(epoch)
      train_time, examples = train_time + dt, examples + n
      local test_acc = d2l.evaluate_accuracy(model, test_iter, device)
      local eps = n / dt
      local row = {epoch = epoch, train_loss = train_l, train_acc = train_acc, test_acc = test_acc,
                   examples_per_sec = eps, epoch_seconds = dt}
      history[#history + 1] = row
      if progress then
        local m = d2l.Accumulator(3)
        m:add(train_l * n, train_acc * n, n)
        draw(epoch, nb, m, test_acc, eps)
        io.stdout:write('\n')
        line_open = false
      else
        say(string.format('epoch %d/%d  loss %s  train acc %s  test acc %s  (%.1f examples/sec, %.1f s)\n',
                          epoch, num_epochs, fmt3(train_l), fmt3(train_acc), fmt3(test_acc), eps, dt))
      end
      if r then
        r:log_epoch(row)
        r:plot_curves()
      end
      if opts.on_epoch and main then opts.on_epoch(row, net) end
      -- the Jupyter kernel (lib/luacnn/jupyter.lua) redraws the curves inline
      if d2l.on_epoch_display and main then d2l.on_epoch_display(row, history, r) end
    end
  end

  local tb
  local ok, err = xpcall(body, function(e)
    tb = debug.traceback(tostring(e), 2)
    return e
  end)
  if line_open then io.stdout:write('\n'); io.stdout:flush(); line_open = false end
  if not ok then
    if run.is_interrupt(err) then
      if r then r:finish{status = 'interrupted'} end
      if not quiet then
        io.stderr:write(string.format('interrupted in epoch %d, batch %d: %d epoch%s finished%s\n',
                                      epoch_now, batch_now, #history, #history == 1 and '' or 's',
                                      r and (', run saved in ' .. r.dir) or ''))
      end
    elseif r then
      r:finish{status = 'failed', error = tostring(err), traceback = tb}
    end
    error(err, 0)
  end

  local last = history[#history]
  local result = {
    train_loss = last.train_loss, train_acc = last.train_acc, test_acc = last.test_acc,
    examples_per_sec = examples / train_time, epochs = #history,
    train_seconds = train_time, run_dir = r and r.dir or nil, history = history,
    device = device,
  }
  say(string.format('loss %s, train acc %s, test acc %s\n', fmt3(result.train_loss),
                    fmt3(result.train_acc), fmt3(result.test_acc)))
  say(string.format('%.1f examples/sec on %s\n', result.examples_per_sec, device))
  if r then
    r:finish{metrics = {examples_per_sec_overall = result.examples_per_sec,
                        train_seconds = train_time}}
    say('run: ', r.dir, ' (metrics.csv, curves.png, summary.json)\n')
    if r.seed then say(string.format('seed %d (--seed %d repeats this run)\n', r.seed, r.seed)) end
  end
  return result
end

-- ---- the chapter's training scripts ----

-- The --device setting of the training scripts: checked when parsed, so a name this machine
-- cannot use stops the script with one line before any work.
function d2l.device_setting()
  return {'auto', check = d2l.check_device,
          help = "'auto' (a GPU when there is one), 'cpu', 'cuda', 'cuda:1', ..."}
end

-- --summary: prints the net's shape table for a (1, C, H, W) input and exits with status 0
-- (no data loaded, nothing trained). Returns quietly when the flag is off.
function d2l.summary_and_exit(net, args, input_shape)
  if not rawget(args, 'summary') then return end
  net:summary(input_shape)
  io.stdout:flush()
  os.exit(0)
end

-- The settings every chapter training script takes, on top of its own defaults. spec:
-- description, batch_size, lr, epochs, resize (the image side, when the net needs another
-- than 28), extra (more lc.args declarations).
function d2l.chapter_settings(spec)
  options.check('chapter_settings', spec, {'description', 'batch_size', 'lr', 'epochs', 'resize', 'extra'}, 2)
  local settings = {
    spec.description,
    batch_size = {spec.batch_size, min = 1, help = 'examples per step'},
    lr = {spec.lr, positive = true, help = 'learning rate'},
    epochs = {spec.epochs, min = 1, help = 'passes over the training set'},
    device = d2l.device_setting(),
    subset = {0, min = 0, help = 'use only this many training images (and as many test images); 0 = all'},
    data = {type = 'string', help = 'folder with the Fashion-MNIST files (default: where `luacnn data list` finds it)'},
    summary = {false, help = "print every layer's output shape (the chapter's shape check) and exit"},
  }
  if spec.resize then settings.resize = {spec.resize, min = 1, help = 'image height and width the net sees'} end
  for k, v in pairs(spec.extra or {}) do settings[k] = v end
  return require('luacnn.args')(settings)
end

-- A network file of examples/, found next to the calling script's folder.
function d2l.example_net(name, level)
  local source = debug.getinfo((level or 1) + 1, 'S').source
  local here = source:match('^@(.-)[^/]*$') or ''
  return dofile(here .. '../examples/' .. name)
end

-- What each chapter script does once it has its net: print the layer shapes, load
-- Fashion-MNIST (resized), train with train_ch6. Returns train_ch6's metrics.
function d2l.train_chapter_net(net, args)
  local size = rawget(args, 'resize') or 28 -- settings raise on undeclared names
  d2l.summary_and_exit(net, args, {1, 1, size, size})
  local device = d2l.device(args.device)
  local train_iter, test_iter = d2l.load_data_fashion_mnist(args.batch_size,
    size ~= 28 and size or nil,
    {subset = args.subset > 0 and args.subset or nil, root = args.data, device = device})
  return d2l.train_ch6(net, train_iter, test_iter, args.epochs, args.lr, device, {settings = args})
end

return d2l

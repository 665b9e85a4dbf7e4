-- luacnn.trainer: a training loop for image classifiers that scripts share, with a run
-- folder, the best checkpoint by valid accuracy, the last checkpoint of every epoch, and
-- resuming an interrupted run where it stopped (the same loss curve as without the stop).
--
--   local trainer = require 'luacnn.trainer'
--   local result = trainer.fit{
--     model = net, train_loader = train, valid_loader = valid, epochs = 15,
--     optimizer = opt,                -- e.g. lc.optim.SGD(net:parameters(), {lr = 0.1, ...})
--     scheduler = sched,              -- optional; stepped after every batch (schedule_per =
--                                     -- 'iteration', default) or every epoch ('epoch');
--                                     -- trainer.warmup_cosine(opt, {...}) makes the usual one
--     label_smoothing = 0.1,          -- for the default loss, F.cross_entropy
--     loss = function(logits, target) ... end,    -- instead of the default
--     batch_transform = function(X, y) return X2, target end,  -- e.g. mixup/cutmix: target
--                                     -- may be soft (B, K) probabilities
--     device = 'cpu' | 'cuda',
--     run = r,                        -- a luacnn.run object (default: run.start{...})
--     meta = {...},                   -- stored in every checkpoint (classes, input size, ...)
--     resume = 'DIR' or 'DIR/last.safetensors',  -- continue an interrupted run
--     progress = 'auto',              -- live line on a terminal; plain lines every
--     log_every = 10,                 --   log_every seconds otherwise
--     quiet = false, max_batches = nil,
--     on_estimate = function(info) end,   -- once, after a few batches of the first epoch:
--                                     -- {images_per_sec, epoch_seconds, total_seconds}
--     on_epoch = function(row, net) end,
--     stop_after_epoch = nil,         -- tests: stop as Ctrl-C would after this epoch
--     time_budget = nil,              -- seconds of training + validation: after epochs 1 and 2
--                                     -- the number of epochs is lowered to fit (on_epochs(n)
--                                     -- is called: rebuild the schedule's length there)
--     script = 'name', settings = args,   -- for the run folder started when run is nil
--     best_path = ..., last_path = ...,   -- checkpoint files (default: in the run folder)
--     split_batch = true,             -- under mpirun: false keeps the whole batch per rank
--     estimate_after = nil,           -- batches skipped before on_estimate times (default 1-3)
--     keep_open = false,              -- true: the run folder is left for the caller to finish
--   }
--   -> {best_acc, best_epoch, best_path, last_path, history = {rows}, run_dir, epochs,
--       images_per_sec}
--
-- A misspelt option is an error naming the nearest ("trainer.fit: unknown option 'epoch'
-- (did you mean 'epochs'?)", luacnn.options). Loaders are iterated `for X, y in loader do`; loader:set_epoch(e) is called first when the
-- loader has it, so a resumed run sees the same order and augmentation in epoch e as an
-- uninterrupted one. Checkpoints (lc.io.save_checkpoint: model file + optimizer file):
-- last.safetensors after every epoch, best.safetensors when the valid accuracy improved
-- (every epoch without a valid loader: the last is then the best). Their metadata 'luacnn.extra' holds {epoch,
-- best_acc, best_epoch, rng = {seed, offset} (lc's generator after the epoch), history,
-- meta}. Ctrl-C: the run folder is marked 'interrupted' (the last finished epoch is
-- already on disk) and the message says how to resume.
local lc = require 'luacnn'
local run = require 'luacnn.run'
local options = require 'luacnn.options'
local d2l = require 'luacnn.d2l'
local F = require 'luacnn.functional'

local trainer = {}

local now = d2l.now

-- ---- schedules ----

-- warmup_cosine(opt, {total_steps, warmup_steps = 0, warmup_start = 0.01, min_factor = 0}):
-- a LambdaLR stepped once per batch: linear warmup from warmup_start * lr to lr over
-- warmup_steps, then cosine down to min_factor * lr at total_steps.
function trainer.warmup_cosine(opt, o)
  if type(o) == 'table' then
    options.check('warmup_cosine', o, {'total_steps', 'warmup_steps', 'warmup_start', 'min_factor'}, 2)
  end
  if type(o) ~= 'table' or math.type(o.total_steps) ~= 'integer' or o.total_steps < 1 then
    error('warmup_cosine: expected {total_steps = positive integer, warmup_steps = ...}', 2)
  end
  local total, warm = o.total_steps, o.warmup_steps or 0
  local start, floor = o.warmup_start or 0.01, o.min_factor or 0
  local function factor(step)
    if step < warm then return start + (1 - start) * step / warm end
    local t = math.min((step - warm) / math.max(total - warm, 1), 1)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))
  end
  local sched = lc.optim.LambdaLR(opt, factor)
  -- a time budget may shorten the run: the cosine then ends at the new total (the warmup,
  -- already done by then, is unchanged)
  sched.set_total_steps = function(n) total = n end
  return sched
end

-- ---- progress ----

local function is_terminal()
  local env = os.getenv('LUACNN_PROGRESS')
  if env == '0' or env == 'false' then return false end
  if env == '1' or env == 'true' then return true end
  return os.execute('test -t 1') == true
end

local function duration(s)
  s = math.max(0, math.floor(s + 0.5))
  if s >= 3600 then return string.format('%dh%02dm', s // 3600, (s % 3600) // 60) end
  if s >= 60 then return string.format('%dm%02ds', s // 60, s % 60) end
  return string.format('%ds', s)
end
trainer.duration = duration

local batch_count = d2l.batch_count

-- ---- checkpoints ----

local function rng_state()
  local seed, offset = lc.get_rng_state()
  return {seed = seed, offset = offset}
end

local function checkpoint_path(resume)
  if resume:match('%.safetensors$') then return resume end
  return (resume:gsub('/+$', '')) .. '/last.safetensors'
end
trainer.checkpoint_path = checkpoint_path

-- Reads a checkpoint's metadata without loading its tensors into a model.
function trainer.read_meta(path)
  local _, meta = lc.io.read_header(path)
  local extra = meta and meta['luacnn.extra']
  if not extra then return nil end
  local ok, v = pcall(require('luacnn.json').decode, extra)
  if not ok then error(string.format("'%s': unreadable checkpoint metadata: %s", path, v), 0) end
  return v
end

-- ---- evaluation ----

-- Accuracy (and mean loss) of net over a loader, in eval mode without gradients.
function trainer.evaluate(net, loader, device, loss_fn)
  net:eval()
  local m = d2l.Accumulator(3)
  lc.no_grad(function()
    for X, y in loader do
      if device then X, y = X:to(device), y:to(device) end
      local out = net(X)
      local n = X:size(1)
      m:add(d2l.correct(out, y), n, loss_fn and (loss_fn(out, y):detach() * n) or 0)
    end
  end)
  local sums = m:values()
  -- a data-parallel run: each rank evaluated its share
  if lc.dist.world_size() > 1 then sums = lc.dist.all_reduce_numbers(sums, 'sum') end
  if sums[2] == 0 then error('evaluate: the loader gave no examples', 2) end
  return sums[1] / sums[2], sums[3] / sums[2], sums[2]
end

-- ---- the loop ----

-- the options of fit (the comment at the top of this file says what each does)
local fit_options = {'model', 'train_loader', 'valid_loader', 'epochs', 'optimizer', 'scheduler',
                     'schedule_per', 'label_smoothing', 'loss', 'batch_transform', 'device', 'run',
                     'script', 'settings', 'best_path', 'last_path', 'meta', 'resume', 'progress',
                     'log_every', 'quiet', 'max_batches', 'on_estimate', 'estimate_after',
                     'on_epoch', 'on_epochs', 'stop_after_epoch', 'time_budget', 'split_batch',
                     'keep_open'}

local function check(o)
  if type(o) ~= 'table' then error('trainer.fit: expected an options table', 3) end
  options.check('trainer.fit', o, fit_options, 3)
  for _, k in ipairs{'model', 'train_loader', 'optimizer'} do
    if o[k] == nil then error('trainer.fit: ' .. k .. ' is required', 3) end
  end
  if math.type(o.epochs) ~= 'integer' or o.epochs < 1 then
    error('trainer.fit: epochs must be a positive integer, got ' .. tostring(o.epochs), 3)
  end
end

-- Under mpirun (or luacnn --nproc N) with N > 1 processes fit trains data-parallel, as
-- d2l.train_ch6 does: the model is wrapped in nn.DistributedDataParallel, the loaders (an
-- ImageLoader or a DataLoader) give each rank its share (the batch size stays the global one,
-- split over the ranks, unless split_batch = false), metrics are summed over the ranks, and
-- only rank 0 prints, writes the run folder and saves checkpoints (the others wait for each
-- save, so all can read it). A checkpoint holds one copy of the (replicated) state, so a run
-- resumes with any number of ranks.
function trainer.fit(o)
  check(o)
  local net, opt, sched = o.model, o.optimizer, o.scheduler
  local per_iteration = (o.schedule_per or 'iteration') == 'iteration'
  local device = o.device or 'cpu'
  local world = lc.dist.init()
  local main = lc.dist.rank() == 0
  local quiet = o.quiet or not main
  local live = o.progress
  if live == nil or live == 'auto' then live = is_terminal() end
  if quiet then live = false end
  local log_every = o.log_every or 10
  local ls = o.label_smoothing or 0
  -- class indices or (mixup/cutmix) probabilities alike
  local loss_fn = o.loss or function(logits, target)
    return F.cross_entropy(logits, target, {label_smoothing = ls})
  end
  local eval_loss = function(logits, y) return F.cross_entropy(logits, y) end
  local function say(...)
    if not quiet then io.stdout:write(...); io.stdout:flush() end
  end

  local r = o.run
  if r == nil then r = run.start{script = o.script, settings = o.settings, metric = 'valid_acc'} end
  local best_path = o.best_path or (r and r:path('best.safetensors'))
  local last_path = o.last_path or (r and r:path('last.safetensors'))
  if not best_path or not last_path then
    error('trainer.fit: without a run folder, give best_path and last_path', 2)
  end

  local state = {epoch = 0, best_acc = -1, best_epoch = 0, history = {}, images = 0, seconds = 0,
                 wall = 0}
  local max_epochs = o.epochs
  local function set_epochs(n)
    if n == o.epochs then return end
    o.epochs = n
    if o.on_epochs then o.on_epochs(n) end
  end

  if o.resume then
    local path = checkpoint_path(o.resume)
    local extra = lc.io.load_checkpoint(path, {model = net, optimizer = opt, scheduler = sched})
    if type(extra) ~= 'table' or not extra.epoch then
      error(string.format("trainer.fit: '%s' is not a training checkpoint (no epoch in its metadata)", path), 2)
    end
    state.epoch, state.best_acc, state.best_epoch = extra.epoch, extra.best_acc or -1, extra.best_epoch or 0
    state.history = extra.history or {}
    state.images, state.seconds, state.wall = extra.images or 0, extra.seconds or 0, extra.wall or 0
    -- a time budget may have shortened the run: keep the length it chose
    if o.time_budget and extra.epochs and extra.epochs < o.epochs then set_epochs(extra.epochs) end
    if extra.rng then lc.set_rng_state(extra.rng.seed, extra.rng.offset) end
    if r then
      r.rows = {}
      for i, row in ipairs(state.history) do r.rows[i] = row end
    end
    say(string.format('resuming from %s: epoch %d done%s\n', path, state.epoch,
                      state.best_acc >= 0 and string.format(', best valid acc %.3f (epoch %d)',
                                                            state.best_acc, state.best_epoch) or ''))
    if state.epoch >= o.epochs then
      say(string.format('nothing to do: %d of %d epochs done\n', state.epoch, o.epochs))
    end
  end

  local function save(path, epoch)
    if not main then return end
    lc.io.save_checkpoint(path, {model = net, optimizer = opt, scheduler = sched, extra = {
      epoch = epoch, best_acc = state.best_acc, best_epoch = state.best_epoch, rng = rng_state(),
      history = state.history, images = state.images, seconds = state.seconds, meta = o.meta,
      epochs = o.epochs, wall = state.wall,
    }})
  end

  local model = net
  if world > 1 then
    for _, k in ipairs{'train_loader', 'valid_loader'} do
      if o[k] and type(o[k].distribute) ~= 'function' then
        error(string.format('trainer.fit: with %d ranks the %s must be an lc.data.ImageLoader or '
                            .. 'DataLoader (each rank takes its share through :distribute)', world, k), 2)
      end
    end
    o.train_loader:distribute{split_batch = o.split_batch ~= false}
    if o.valid_loader then o.valid_loader:distribute{eval = true} end
    model = lc.nn.DistributedDataParallel(net)   -- after a resume: rank 0's loaded weights
  end

  local nb_total = batch_count(o.train_loader)
  if o.max_batches and (not nb_total or o.max_batches < nb_total) then nb_total = o.max_batches end
  local line_open = false
  local where = {epoch = 0, batch = 0}
  local estimated = false

  local function progress_text(epoch, i, m, t0)
    local n = m:get(3)
    local dt = math.max(now() - t0, 1e-6)
    local ips = n / dt
    local eta = nb_total and i > 0 and (dt / i) * (nb_total - i) or nil
    return string.format('epoch %d/%d  %d/%s  loss %.3f  train acc %.3f  %.0f img/s%s',
                         epoch, o.epochs, i, nb_total or '?', m:get(1) / math.max(n, 1),
                         m:get(2) / math.max(n, 1), ips, eta and ('  ETA ' .. duration(eta)) or '')
  end

  local function train_epoch(epoch)
    if o.train_loader.set_epoch then o.train_loader:set_epoch(epoch - 1) end  -- 0-based, as the loader counts
    net:train()
    local m = d2l.Accumulator(3)
    local t0 = now()
    local last = t0
    local i = 0
    for X, y in o.train_loader do
      i = i + 1
      where.batch = i
      if X.device ~= device then X = X:to(device) end
      if y.device ~= device then y = y:to(device) end
      local input, target = X, y
      if o.batch_transform then input, target = o.batch_transform(X, y) end
      opt:zero_grad()
      local logits = model(input)
      local l = loss_fn(logits, target)
      l:backward()
      opt:step()
      if sched and per_iteration then sched:step() end
      local n = X:size(1)
      m:add(l:detach() * n, d2l.correct(logits, y), n)
      local t = now()
      local warm = o.estimate_after or math.min(3, math.max(1, (nb_total or 9) // 3))
      if not estimated and o.on_estimate and epoch == state.first_epoch and i == warm + 1 then
        -- the first batches warm caches up: time the ones after them
        state.est_t0, state.est_n0 = t, m:get(3)
      elseif not estimated and o.on_estimate and state.est_t0 and i == 2 * warm + 1 then
        estimated = true
        local ips = (m:get(3) - state.est_n0) / math.max(t - state.est_t0, 1e-6)
        local per_epoch = nb_total and (nb_total * (m:get(3) / i)) / ips or nil
        if line_open then io.stdout:write('\r\27[K'); line_open = false end
        o.on_estimate{images_per_sec = ips, epoch_seconds = per_epoch,
                      total_seconds = per_epoch and per_epoch * (o.epochs - epoch + 1)}
      end
      if live and t - last >= 0.25 then
        io.stdout:write('\r\27[K', progress_text(epoch, i, m, t0)); io.stdout:flush()
        line_open = true
        last = t
      elseif not live and not quiet and t - last >= log_every then
        say(progress_text(epoch, i, m, t0), '\n')
        last = t
      end
      if o.max_batches and i >= o.max_batches then break end
    end
    if i == 0 then error('trainer.fit: the training loader gave no batches', 0) end
    if sched and not per_iteration then sched:step() end
    local sums = m:values()
    local dt = math.max(now() - t0, 1e-6)
    if world > 1 then   -- every rank's examples, and the slowest rank's time
      sums = lc.dist.all_reduce_numbers(sums, 'sum')
      dt = lc.dist.all_reduce_number(dt, 'max')
    end
    if line_open then io.stdout:write('\r\27[K'); line_open = false end
    return sums[1] / sums[3], sums[2] / sums[3], sums[3], dt
  end

  local function body()
    state.first_epoch = state.epoch + 1
    local epoch = state.epoch
    while epoch < o.epochs do
      epoch = epoch + 1
      where.epoch, where.batch = epoch, 0
      local epoch_t0 = now()
      local lr = opt.param_groups[1].lr
      local train_loss, train_acc, n, dt = train_epoch(epoch)
      local row = {epoch = epoch, train_loss = train_loss, train_acc = train_acc,
                   examples_per_sec = n / dt, epoch_seconds = dt, lr = lr}
      if o.valid_loader then
        local t1 = now()
        row.valid_acc, row.valid_loss = trainer.evaluate(net, o.valid_loader, device, eval_loss)
        row.valid_seconds = now() - t1
      end
      state.images, state.seconds = state.images + n, state.seconds + dt
      -- without validation the last epoch is the best (best_acc stays -1: no accuracy known)
      local improved = (row.valid_acc == nil) or row.valid_acc > state.best_acc
      if improved then state.best_acc, state.best_epoch = row.valid_acc or -1, epoch end
      state.history[#state.history + 1] = row
      state.epoch = epoch
      local epoch_wall = now() - epoch_t0
      state.wall = state.wall + epoch_wall
      local budget_note = ''
      if o.time_budget and epoch <= 2 and epoch < max_epochs then
        -- fit the run into the budget, judging by this epoch (the first fills the caches, so
        -- it is judged again after the second); the schedule follows through on_epochs
        local fit = epoch + math.floor(math.max(o.time_budget - state.wall, 0) / epoch_wall)
        fit = math.max(epoch, math.min(max_epochs, fit))
        fit = lc.dist.broadcast_integer(fit, 0)   -- every rank runs rank 0's choice
        if fit ~= o.epochs then
          budget_note = string.format('time budget %s: an epoch takes %s, so %d epochs instead of %d\n',
                                      duration(o.time_budget), duration(epoch_wall), fit, o.epochs)
          set_epochs(fit)
        end
      end
      save(last_path, epoch)
      if improved then save(best_path, epoch) end
      if world > 1 then lc.dist.barrier() end   -- the checkpoints are on disk for every rank
      say(string.format('epoch %d/%d  loss %.4f  train acc %.3f%s  %.0f img/s  %s%s\n', epoch,
                        o.epochs, train_loss, train_acc,
                        row.valid_acc and string.format('  valid acc %.3f', row.valid_acc) or '',
                        n / dt, duration(dt), improved and (row.valid_acc and '  (best so far, saved)' or '  (saved)') or ''))
      say(budget_note)
      if r then
        r:log_epoch(row)
        r:plot_curves()
      end
      if o.on_epoch and main then o.on_epoch(row, net) end
      if o.stop_after_epoch and epoch == o.stop_after_epoch and epoch < o.epochs then
        error('interrupted!', 0)
      end
    end
  end

  local tb
  local ok, err = xpcall(body, function(e)
    tb = debug.traceback(tostring(e), 2)
    return e
  end)
  if line_open then io.stdout:write('\n'); io.stdout:flush() end
  if not ok then
    if run.is_interrupt(err) then
      if r then r:finish{status = 'interrupted'} end
      if not quiet then
        if state.epoch > 0 then
          io.stderr:write(string.format('interrupted in epoch %d (batch %d): %d epoch%s on disk in %s; ' ..
                                        'continue with --resume %s\n', where.epoch, where.batch,
                                        state.epoch, state.epoch == 1 and '' or 's', last_path,
                                        r and r.dir or last_path))
        else
          io.stderr:write(string.format('interrupted in epoch %d (batch %d): no epoch finished, ' ..
                                        'nothing to resume from\n', where.epoch, where.batch))
        end
      end
    elseif r then
      r:finish{status = 'failed', error = tostring(err), traceback = tb}
    end
    error(err, 0)
  end

  local result = {best_acc = state.best_acc >= 0 and state.best_acc or nil, best_epoch = state.best_epoch, best_path = best_path,
                  last_path = last_path, history = state.history, run_dir = r and r.dir,
                  epochs = state.epoch, images_per_sec = state.images / math.max(state.seconds, 1e-6),
                  run = r}
  if r and not o.keep_open then
    r:finish{metrics = {best_valid_acc = result.best_acc, best_epoch = state.best_epoch}}
  end
  return result
end

return trainer

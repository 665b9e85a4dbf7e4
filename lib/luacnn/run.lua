-- Run folders: every training run leaves a tidy record that sweeps and comparisons read.
--
--   local run = require 'luacnn.run'
--   local r = run.start{script = 'lenet', settings = args}    -- args from lc.args{...}
--   -- creates settings.run_dir, or runs/<script>-<YYYYmmdd-HHMMSS>/, and writes config.json;
--   -- settings default to the script's lc.args result, script to the script's file name;
--   -- other options: dir (overrides both), root ('runs'), metric ('test_acc'),
--   -- higher_is_better, quiet; a misspelt one is an error naming the nearest
--   for epoch = 1, n do
--     ...
--     r:log_epoch{epoch = epoch, train_loss = l, train_acc = a, test_acc = t,
--                 examples_per_sec = eps, seconds = s}         -- rewrites metrics.csv
--     r:plot_curves()                                        -- curves.png, like d2l's Animator
--   end
--   r:finish()                                               -- summary.json, status 'finished'
--
-- Files in a run folder (every write atomic: a temporary file, then rename):
--   config.json   {script, settings, argv, started, cwd, seed}: seed is the generator's
--                 (lc.initial_seed(), drawn from the OS unless seeded): --seed repeats it
--   metrics.csv   one row per epoch; columns epoch, train_loss, train_acc, test_acc and/or
--                 valid_acc, examples_per_sec, seconds (seconds since the run started), then
--                 any other fields given to log_epoch, in name order
--   curves.png    train loss, train acc, test (or valid) acc against epoch, titled with the
--                 script and the settings that differ from its defaults
--   summary.json  the run's outcome, written at start ('running'), after each epoch and at the
--                 end; the format that `luacnn sweep` and `luacnn compare` read:
--     format            'luacnn-run/1'
--     script, dir       script name and run folder
--     status            'running' | 'finished' | 'failed' | 'interrupted'
--     metric            name of the main metric (default test_acc, else valid_acc)
--     higher_is_better  true for accuracies (false when the metric's name has loss/err)
--     value             the main metric at the last epoch (or as given to finish)
--     best              {epoch =, value =}: the best epoch by the main metric
--     final             the last metrics row, plus any metrics given to finish
--     epochs, seconds   epochs logged, wall time of the run
--     seed              the generator's seed (as in config.json)
--     started, finished ISO-8601 times (UTC);  error, traceback  when failed
--   log.txt       the run's printed output, when `luacnn sweep` ran it
--   best/last checkpoints wherever the script saves them (r:path('best.safetensors')).
--
-- Ctrl-C: wrap the loop in r:guard(fn [, {on_interrupt = fn}]). The luacnn executable turns
-- SIGINT into the error "interrupted!"; guard then calls on_interrupt (save a checkpoint),
-- marks the run 'interrupted', writes the curves and re-raises, so the process stops with
-- nothing torn. Any other error marks the run 'failed' with its message and traceback.
--
-- Helpers: run.atomic_write(path, bytes), run.write_json(path, v), run.read_json(path),
-- run.write_csv(path, columns, rows), run.read_csv(path), run.mkdir(path), run.exists(path),
-- run.load(dir) (config, summary and metrics of a finished or unfinished run),
-- run.is_interrupt(err), run.shell_quote(s), run.timestamp().
local json = require 'luacnn.json'
local unique = require 'luacnn.unique'
local options = require 'luacnn.options'

local run = {}
local Run = {}
Run.__index = Run
Run.__name = 'luacnn.Run'

run.SUMMARY_FORMAT = 'luacnn-run/1'

---------------------------------------------------------------- files

function run.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function run.exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() return true end
  -- a folder cannot be opened for reading everywhere; ask the shell
  return os.execute('test -e ' .. run.shell_quote(path)) == true
end

function run.is_dir(path)
  return os.execute('test -d ' .. run.shell_quote(path)) == true
end

function run.mkdir(path)
  local ok = os.execute('mkdir -p ' .. run.shell_quote(path))
  if not ok then error(string.format("run: cannot create folder '%s'", path), 2) end
  return path
end

-- Write bytes to path so that readers see the old file or the new one, never a part:
-- write a temporary file in the same folder, flush it, then rename over path.
function run.atomic_write(path, bytes)
  local tmp = path .. '.tmp-' .. unique()
  local ok, err = pcall(function()
    local f, why = io.open(tmp, 'wb')
    if not f then error(why, 0) end
    local w, werr = f:write(bytes)
    if not w then f:close() error(werr, 0) end
    local fl, ferr = f:flush()
    f:close()
    if not fl then error(ferr, 0) end
    local rn, rerr = os.rename(tmp, path)
    if not rn then error(rerr, 0) end
  end)
  if not ok then
    os.remove(tmp)     -- even when interrupted in the middle: no stray temporary file
    if run.is_interrupt(err) then error(err, 0) end
    error(string.format("run.atomic_write: cannot write '%s': %s", path, tostring(err)), 2)
  end
  return path
end

function run.read_file(path)
  local f, err = io.open(path, 'rb')
  if not f then return nil, err end
  local s = f:read('a')
  f:close()
  return s
end

function run.write_json(path, v)
  return run.atomic_write(path, json.encode(v, {indent = true}) .. '\n')
end

-- The decoded value, or nil and the reason.
function run.read_json(path)
  local s, err = run.read_file(path)
  if not s then return nil, err end
  local ok, v = pcall(json.decode, s)
  if not ok then return nil, path .. ': ' .. tostring(v) end
  return v
end

local function csv_field(v)
  if v == nil then return '' end
  if type(v) == 'number' then
    if v ~= v then return 'nan' end
    if math.type(v) == 'integer' then return tostring(v) end
    return (string.format('%.6g', v))
  end
  local s = tostring(v)
  if s:find('[,"\r\n]') or s:match('^%s') or s:match('%s$') then
    s = '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

function run.csv_text(columns, rows)
  local out = {}
  local head = {}
  for i, c in ipairs(columns) do head[i] = csv_field(c) end
  out[1] = table.concat(head, ',')
  for _, row in ipairs(rows) do
    local f = {}
    for i, c in ipairs(columns) do f[i] = csv_field(row[c]) end
    out[#out + 1] = table.concat(f, ',')
  end
  return table.concat(out, '\n') .. '\n'
end

function run.write_csv(path, columns, rows)
  return run.atomic_write(path, run.csv_text(columns, rows))
end

-- Split CSV text into records of fields (quotes, doubled quotes, newlines inside quotes).
local function parse_csv(s)
  local records, fields, i, n = {}, {}, 1, #s
  local field = {}
  local function end_field() fields[#fields + 1] = table.concat(field); field = {} end
  local function end_record()
    end_field()
    records[#records + 1] = fields
    fields = {}
  end
  while i <= n do
    local c = s:sub(i, i)
    if c == '"' and #field == 0 then
      local j = i + 1
      while true do
        local q = s:find('"', j, true)
        if not q then error('csv: unterminated quoted field', 0) end
        field[#field + 1] = s:sub(j, q - 1)
        if s:sub(q + 1, q + 1) == '"' then
          field[#field + 1] = '"'
          j = q + 2
        else
          i = q + 1
          break
        end
      end
    elseif c == ',' then
      end_field()
      i = i + 1
    elseif c == '\n' or c == '\r' then
      end_record()
      i = i + ((c == '\r' and s:sub(i + 1, i + 1) == '\n') and 2 or 1)
    else
      local j = s:find('[,\r\n"]', i) or n + 1
      field[#field + 1] = s:sub(i, j - 1)
      i = j
    end
  end
  if #field > 0 or #fields > 0 then end_record() end
  return records
end

local function csv_value(s)
  if s == '' then return nil end
  if s == 'nan' then return 0 / 0 end
  local v = tonumber(s)
  if v ~= nil and s:match('^%s*[-+]?[%d.]') then return v end
  return s
end

-- rows (list of {column = value}, numbers as numbers, empty as nil) and the column names;
-- nil and the reason when the file cannot be read.
function run.read_csv(path)
  local s, err = run.read_file(path)
  if not s then return nil, err end
  local ok, records = pcall(parse_csv, s)
  if not ok then return nil, path .. ': ' .. tostring(records) end
  local columns = records[1] or {}
  local rows = {}
  for r = 2, #records do
    local row = {}
    for k, c in ipairs(columns) do row[c] = csv_value(records[r][k] or '') end
    rows[#rows + 1] = row
  end
  return rows, columns
end

function run.timestamp(t)
  return os.date('%Y%m%d-%H%M%S', t)
end

local function iso_time(t)
  return os.date('!%Y-%m-%dT%H:%M:%SZ', t)
end

-- Ctrl-C as luacnn (and lua) report it: the error "interrupted!", or a read cut short by
-- the signal ("Interrupted system call").
function run.is_interrupt(err)
  return type(err) == 'string' and (err:find('interrupted!%s*$') ~= nil or
                                    err:find('Interrupted system call') ~= nil)
end

-- Wall-clock seconds with sub-second resolution: Lua's os.time() counts whole seconds, so
-- read the kernel's uptime where there is one.
local function now()
  local f = io.open('/proc/uptime', 'r')
  if f then
    local t = tonumber((f:read('l') or ''):match('^([%d.]+)'))
    f:close()
    if t then return t end
  end
  return os.time()
end
run.now = now

---------------------------------------------------------------- a run

-- Column order of metrics.csv: the d2l quantities first, extras after in name order.
run.STANDARD_COLUMNS = {'epoch', 'train_loss', 'train_acc', 'test_acc', 'valid_acc',
                        'examples_per_sec', 'seconds'}

local function metric_direction(name)
  return not (name:find('loss') or name:find('err'))
end

-- Settings that only change what is shown or where things go, not what is computed: left
-- out of the curves' title.
run.DISPLAY_SETTINGS = {run_dir = true, summary = true, data = true, progress = true,
                        quiet = true, help = true, verbose = true}

-- "lr=0.3 epochs=5": the settings whose value differs from the script's default (the seed
-- only when given), for the curves' title; '' when all are the defaults. info is
-- luacnn.args' info(settings) (declarations and what was given); without it, the settings
-- given explicitly, or none.
function run.settings_label(settings, info)
  local decls = info and info.declarations and info.declarations.decls
  local explicit = info and info.explicit or {}
  local names = {}
  for k, v in pairs(decls or explicit) do
    if type(k) == 'string' and not run.DISPLAY_SETTINGS[k] then
      local value = rawget(settings, k)
      local differs
      if k == 'seed' then differs = explicit[k] and value ~= nil
      elseif decls then differs = value ~= decls[k].default
      else differs = true end
      if differs then names[#names + 1] = k end
    end
  end
  table.sort(names)
  for i, k in ipairs(names) do
    local v = rawget(settings, k)
    if math.type(v) == 'float' then v = string.format('%g', v) end
    names[i] = k .. '=' .. tostring(v)
  end
  return table.concat(names, ' ')
end

-- In a data-parallel job (lc.dist under mpirun) only rank 0 writes: the other ranks get a
-- Run of the same folder whose writes do nothing, so a script runs unchanged on every rank.
local function dist_world()
  local ok, lc = pcall(require, 'luacnn')
  if not ok or type(lc) ~= 'table' or not rawget(lc, 'core') or not lc.core._dist then return nil end
  if lc.dist.init() == 1 then return nil end
  return lc.dist
end

local function secondary(self) return self.passive end

function run.start(opts)
  opts = options.check('run.start', opts, {'settings', 'script', 'dir', 'root', 'metric',
                                           'higher_is_better', 'quiet'}, 2)
  local dist = dist_world()
  local ok_args, args = pcall(require, 'luacnn.args')
  -- without explicit settings: the script's lc.args{...} (so --run_dir works for train_ch6)
  local settings = opts.settings or (ok_args and args.current) or {}
  local info = ok_args and args.info(settings) or nil
  local script = opts.script or (info and info.script)
  if not script then
    local a = rawget(_G, 'arg')
    local p = type(a) == 'table' and a[0] or nil
    script = p and (p:match('([^/]+)$'):gsub('%.lua$', '')) or 'run'
  end
  -- --run_dir on the command line names this run's folder even when the caller passes
  -- settings of its own (train_ch6 without opts.settings does)
  local current = ok_args and args.current or nil
  local dir = opts.dir or rawget(settings, 'run_dir') or (current and rawget(current, 'run_dir'))
  if not dir and dist and dist.rank() ~= 0 then
    dir = dist.broadcast_string('', 0)   -- rank 0's name for the folder
  elseif not dir then
    local root = opts.root or 'runs'
    local base = string.format('%s/%s-%s', root, script, run.timestamp())
    dir = base
    local k = 2
    while run.exists(dir) do       -- two runs started in the same second
      dir = string.format('%s-%d', base, k)
      k = k + 1
    end
    if dist then dist.broadcast_string(dir, 0) end
  end
  local passive = dist ~= nil and dist.rank() ~= 0
  if not passive then run.mkdir(dir) end
  local self = setmetatable({
    dir = dir, script = script, settings = settings, rows = {}, columns = nil,
    metric = opts.metric, higher_is_better = opts.higher_is_better,
    started = os.time(), clock0 = now(), status = 'running', quiet = opts.quiet,
    passive = passive,
  }, Run)
  self.label = run.settings_label(settings, info)
  -- the generator's seed, drawn from the OS unless the script seeded it: `--seed` with it
  -- repeats the run
  local lc_loaded = package.loaded['luacnn']
  if type(lc_loaded) == 'table' and type(rawget(lc_loaded, 'initial_seed')) == 'function' then
    self.seed = lc_loaded.initial_seed()
  end
  if passive then return self end
  local plain = {}
  for k, v in pairs(settings) do plain[k] = v end
  run.write_json(self:path('config.json'), {
    script = script, settings = plain, argv = info and info.argv or nil,
    explicit = info and info.explicit or nil, started = iso_time(self.started),
    cwd = os.getenv('PWD'), seed = self.seed,
  })
  self:_write_summary()
  return self
end

function Run:path(name)
  return self.dir .. '/' .. name
end

-- Atomic write of any file of the run (checkpoints saved as bytes, notes, ...).
function Run:write(name, bytes)
  if secondary(self) then return self:path(name) end
  return run.atomic_write(self:path(name), bytes)
end

function Run:_metric()
  if self.metric then return self.metric end
  local last = self.rows[#self.rows]
  if last and last.test_acc == nil and last.valid_acc ~= nil then return 'valid_acc' end
  return 'test_acc'
end

function Run:_columns()
  local seen, cols = {}, {}
  for _, row in ipairs(self.rows) do
    for k in pairs(row) do seen[k] = true end
  end
  for _, c in ipairs(run.STANDARD_COLUMNS) do
    if seen[c] then cols[#cols + 1] = c; seen[c] = nil end
  end
  local extra = {}
  for k in pairs(seen) do extra[#extra + 1] = k end
  table.sort(extra)
  for _, k in ipairs(extra) do cols[#cols + 1] = k end
  return cols
end

function Run:log_epoch(row)
  if type(row) ~= 'table' then
    error('run:log_epoch: expected a table {epoch =, train_loss =, ...}, got ' .. type(row), 2)
  end
  local r = {}
  for k, v in pairs(row) do
    if type(k) ~= 'string' then error('run:log_epoch: field names must be strings', 2) end
    if type(v) ~= 'number' and type(v) ~= 'string' and type(v) ~= 'boolean' then
      error(string.format('run:log_epoch: %s must be a number or a string, got %s', k, type(v)), 2)
    end
    r[k] = v
  end
  r.epoch = r.epoch or #self.rows + 1
  if r.seconds == nil then r.seconds = now() - self.clock0 end
  self.rows[#self.rows + 1] = r
  if secondary(self) then return r end
  run.write_csv(self:path('metrics.csv'), self:_columns(), self.rows)
  self:_write_summary()
  return r
end

local function curve_series(rows, col)
  local x, y, any = {}, {}, false
  for i, r in ipairs(rows) do
    x[i] = tonumber(r.epoch) or i
    local v = r[col]
    if type(v) == 'number' then any = true else v = 0 / 0 end
    y[i] = v
  end
  return any and x or nil, y
end

local warned_plot = false

-- curves.png (or opts.path): train loss, train acc and test/valid acc against epoch, as
-- d2l's Animator draws them; opts.title, opts.legend (lc.plot's) change those. Returns the
-- path, or nil and the reason (never raises for a missing plotting backend, so training goes on).
function Run:plot_curves(opts)
  opts = options.check('run:plot_curves', opts, {'path', 'title', 'legend'}, 2)
  if secondary(self) then return nil, 'rank 0 draws the curves' end
  local plot = require 'luacnn.plot'
  local ok, why = plot.available()
  if not ok then
    if not warned_plot and not self.quiet then
      io.stderr:write('run: no curves drawn: ', why, '\n')
      warned_plot = true
    end
    return nil, why
  end
  local series = {}
  local styles = {
    {'train_loss', 'train loss', 'C1', 'solid'},
    {'train_acc', 'train acc', 'm', 'dashed'},
    {'test_acc', 'test acc', 'g', 'dashdot'},
    {'valid_acc', 'valid acc', 'g', 'dashdot'},
  }
  for _, st in ipairs(styles) do
    local x, y = curve_series(self.rows, st[1])
    if x then
      series[#series + 1] = {name = st[2], x = x, y = y, color = st[3], dash = st[4],
                             marker = #self.rows == 1 and 'circle' or nil}
    end
  end
  local n = #self.rows
  local last = self.rows[n] or {}
  local title = opts.title or (self.label ~= '' and (self.script .. ': ' .. self.label) or self.script)
  local path = opts.path or self:path('curves.png')
  local ok2, err = pcall(plot.lines, {
    path = path, title = title, xlabel = 'epoch', series = series,
    xlim = n <= 1 and {0.5, 1.5} or {tonumber(self.rows[1].epoch) or 1, tonumber(last.epoch) or n},
    legend = opts.legend,
  })
  if not ok2 then
    if run.is_interrupt(err) then error(err, 0) end
    return nil, err
  end
  return path
end

function Run:_summary(extra)
  local metric = self:_metric()
  local higher = self.higher_is_better
  if higher == nil then higher = metric_direction(metric) end
  local best
  for _, r in ipairs(self.rows) do
    local v = r[metric]
    if type(v) == 'number' and v == v then
      if not best or (higher and v > best.value) or (not higher and v < best.value) then
        best = {epoch = r.epoch, value = v}
      end
    end
  end
  local final = {}
  for k, v in pairs(self.rows[#self.rows] or {}) do final[k] = v end
  for k, v in pairs(extra and extra.metrics or {}) do final[k] = v end
  return {
    format = run.SUMMARY_FORMAT, script = self.script, dir = self.dir, status = self.status,
    metric = metric, higher_is_better = higher, value = final[metric], best = best,
    final = next(final) and final or nil, epochs = #self.rows, seed = self.seed,
    seconds = now() - self.clock0, started = iso_time(self.started),
    finished = self.status ~= 'running' and iso_time(os.time()) or nil,
    error = self.error, traceback = self.traceback,
  }
end

function Run:_write_summary(extra)
  if secondary(self) then return self:path('summary.json') end
  return run.write_json(self:path('summary.json'), self:_summary(extra))
end

-- End the run: summary.json with status (default 'finished'), metrics = {...} adds or
-- overrides final metrics (e.g. a test accuracy measured once at the end); error and
-- traceback (a failed run's), plot = false (no last curves.png).
function Run:finish(opts)
  opts = options.check('run:finish', opts, {'status', 'metrics', 'error', 'traceback', 'plot'}, 2)
  self.status = opts.status or 'finished'
  self.error = opts.error and tostring(opts.error) or self.error
  self.traceback = opts.traceback or self.traceback
  if #self.rows > 0 and opts.plot ~= false then self:plot_curves() end
  self:_write_summary(opts)
  return self:path('summary.json')
end

function Run:fail(err, traceback)
  return self:finish{status = 'failed', error = err, traceback = traceback}
end

-- Run fn(self); record an interrupt or an error in the run's summary, then re-raise it.
function Run:guard(fn, opts)
  opts = options.check('run:guard', opts, {'on_interrupt'}, 2)
  local tb
  local results = table.pack(xpcall(fn, function(e)
    tb = debug.traceback(tostring(e), 2)
    return e
  end, self))
  if results[1] then return table.unpack(results, 2, results.n) end
  local err = results[2]
  if run.is_interrupt(err) then
    if opts.on_interrupt then
      local ok, e2 = pcall(opts.on_interrupt, self)
      if not ok then io.stderr:write('run: saving on interrupt failed: ', tostring(e2), '\n') end
    end
    self:finish{status = 'interrupted'}
    if not self.quiet then io.stderr:write(string.format('\ninterrupted: run saved in %s\n', self.dir)) end
  else
    self:finish{status = 'failed', error = tostring(err), traceback = tb}
  end
  error(err, 0)
end

---------------------------------------------------------------- reading runs back

-- {dir, config, summary, rows, columns} of a run folder; missing parts are nil. Raises
-- when dir is not a run folder at all.
function run.load(dir)
  dir = dir:gsub('/+$', '')
  local config = run.read_json(dir .. '/config.json')
  local summary = run.read_json(dir .. '/summary.json')
  local rows, columns = run.read_csv(dir .. '/metrics.csv')
  if not config and not summary and not rows then
    if not run.is_dir(dir) then error(string.format("'%s' is not a folder", dir), 0) end
    error(string.format("'%s' is not a run folder (no config.json, summary.json or metrics.csv)", dir), 0)
  end
  return {dir = dir, config = config, summary = summary, rows = rows or {}, columns = columns or {}}
end

return run

-- `luacnn sweep SCRIPT [options] [script options]`: run a script over a grid (or a random
-- sample) of settings, one run folder each, then print a table sorted by the main metric,
-- write results.csv and one plot per swept setting.
--
--   luacnn sweep scripts/lenet.lua --grid lr=0.1,0.3,0.9 batch_size=128,256 --epochs 5
--   luacnn sweep scripts/lenet.lua --random 20 lr=log:1e-3:1 batch_size=int:32:512 --jobs 2
--   luacnn sweep scripts/lenet.lua --resume            (continue the latest lenet sweep)
--
-- Options (anything else, like `--epochs 5`, is passed to every run):
--   --grid NAME=V1,V2,... [NAME=...]   every combination of the listed values
--   --random N NAME=SPEC [NAME=SPEC]   N random configurations; SPEC is log:LO:HI (log-uniform),
--                                      lin:LO:HI (uniform), int:LO:HI, logint:LO:HI or
--                                      A,B,C (one of the values). With --grid: N per grid point.
--   --seeds K | --seeds S1,S2,...      repeat every configuration with seeds 1..K (--seed S)
--   --jobs N                           runs at once (default 1); CPU threads are shared out
--                                      (OMP_NUM_THREADS), several GPUs dealt round-robin
--   --dir DIR                          sweep folder (default runs/sweep-<script>-<time>)
--   --resume                           continue the sweep in --dir (default: the latest one for
--                                      this script), skipping finished runs
--   --metric NAME [--minimize|--maximize]  what to sort and plot by (default: the runs' own
--                                      main metric, test_acc for train_ch6)
--   --sweep-seed N                     seed of the random search (recorded in sweep.json)
--   --dry-run                          print the planned runs and stop
--   --                                 everything after it goes to the script unchanged
--
-- The sweep folder holds sweep.json (the plan: resuming reruns exactly it), one run folder per
-- run (config.json, metrics.csv, summary.json, curves.png, log.txt with the run's output, and
-- exit.json written by the sweep when the run ends: the marker --resume reads), results.csv
-- (one row per run, failed ones with their error) and <metric>_vs_<setting>.png.
local run = require 'luacnn.run'
local json = require 'luacnn.json'

local sweep = {}

local function errorf(fmt, ...)
  error({sweep_error = string.format(fmt, ...)}, 0)
end

local function split(s, sep)
  local out = {}
  for piece in (s .. sep):gmatch('(.-)' .. sep:gsub('%p', '%%%0')) do out[#out + 1] = piece end
  return out
end

---------------------------------------------------------------- command line

local function parse_grid_spec(word)
  local name, values = word:match('^([%a_][%w_%-]*)=(.*)$')
  if not name then errorf("--grid expects NAME=V1,V2,..., got '%s'", word) end
  name = name:gsub('%-', '_')
  local list = split(values, ',')
  for _, v in ipairs(list) do
    if v == '' then errorf("--grid %s: empty value in '%s'", name, values) end
  end
  return {name = name, values = list}
end

local function parse_random_spec(word)
  local name, spec = word:match('^([%a_][%w_%-]*)=(.*)$')
  if not name then errorf("--random expects NAME=SPEC (e.g. lr=log:1e-3:1), got '%s'", word) end
  name = name:gsub('%-', '_')
  local kind, lo, hi = spec:match('^(%a+):([^:]+):([^:]+)$')
  if kind then
    kind = kind:lower()
    local kinds = {log = true, lin = true, uniform = true, int = true, logint = true}
    if not kinds[kind] then
      errorf("--random %s: unknown distribution '%s' (log, lin, int, logint, or a list A,B,C)", name, kind)
    end
    local a, b = tonumber(lo), tonumber(hi)
    if not a or not b then errorf("--random %s: bounds must be numbers, got '%s' and '%s'", name, lo, hi) end
    if not (a < b) then errorf('--random %s: the low bound %s must be below the high bound %s', name, lo, hi) end
    if (kind == 'log' or kind == 'logint') and a <= 0 then
      errorf('--random %s: a log range needs positive bounds, got %s', name, lo)
    end
    if kind == 'uniform' then kind = 'lin' end
    return {name = name, kind = kind, lo = a, hi = b}
  end
  local list = split(spec, ',')
  if #list < 1 or spec == '' then errorf("--random %s: expects log:LO:HI, lin:LO:HI, int:LO:HI or A,B,C", name) end
  return {name = name, kind = 'choice', values = list}
end

local sweep_flags = {
  grid = true, random = true, seeds = true, jobs = true, resume = true, dir = true,
  metric = true, minimize = true, maximize = true, sweep_seed = true, dry_run = true, help = true,
}

-- argv -> options table; raises {sweep_error = message} on bad usage.
function sweep.parse_cli(argv)
  local o = {grid = {}, random_specs = {}, passthrough = {}, jobs = 1}
  local i, n = 1, #argv
  local function value_of(flag)
    local v = argv[i + 1]
    if v == nil or v:match('^%-%-') then errorf('%s needs a value', flag) end
    i = i + 1
    return v
  end
  local function specs_after(parse, into)
    local got = 0
    while argv[i + 1] and not argv[i + 1]:match('^%-%-') and argv[i + 1]:find('=', 1, true) do
      into[#into + 1] = parse(argv[i + 1])
      i = i + 1
      got = got + 1
    end
    return got
  end
  while i <= n do
    local w = argv[i]
    local flag, inline = w:match('^%-%-([%w_%-]+)=(.*)$')
    flag = (flag or w:match('^%-%-([%w_%-]+)$') or ''):gsub('%-', '_')
    if w == '--' then
      for k = i + 1, n do o.passthrough[#o.passthrough + 1] = argv[k] end
      break
    elseif flag ~= '' and sweep_flags[flag] and not (inline and (flag == 'grid' or flag == 'random')) then
      if flag == 'help' then o.help = true
      elseif flag == 'grid' then
        if specs_after(parse_grid_spec, o.grid) == 0 then
          errorf('--grid needs NAME=V1,V2,... (e.g. --grid lr=0.1,0.3 batch_size=128,256)')
        end
      elseif flag == 'random' then
        local v = inline or value_of('--random')
        o.random = math.tointeger(tonumber(v))
        if not o.random or o.random < 1 then errorf("--random expects a count, got '%s'", v) end
        if specs_after(parse_random_spec, o.random_specs) == 0 then
          errorf('--random %d needs NAME=SPEC (e.g. lr=log:1e-3:1)', o.random)
        end
      elseif flag == 'seeds' then
        local v = inline or value_of('--seeds')
        local k = math.tointeger(tonumber(v))
        if k and not v:find(',') then
          if k < 1 then errorf('--seeds expects a count >= 1, got %s', v) end
          o.seeds = {}
          for s = 1, k do o.seeds[s] = s end
        else
          o.seeds = {}
          for _, s in ipairs(split(v, ',')) do
            local sv = math.tointeger(tonumber(s))
            if not sv then errorf("--seeds expects a count or a list of integers, got '%s'", v) end
            o.seeds[#o.seeds + 1] = sv
          end
        end
      elseif flag == 'jobs' then
        local v = inline or value_of('--jobs')
        o.jobs = math.tointeger(tonumber(v))
        if not o.jobs or o.jobs < 1 then errorf("--jobs expects a count >= 1, got '%s'", v) end
      elseif flag == 'sweep_seed' then
        local v = inline or value_of('--sweep-seed')
        o.sweep_seed = math.tointeger(tonumber(v))
        if not o.sweep_seed then errorf("--sweep-seed expects an integer, got '%s'", v) end
      elseif flag == 'dir' then o.dir = inline or value_of('--dir')
      elseif flag == 'metric' then o.metric = inline or value_of('--metric')
      elseif flag == 'resume' then o.resume = true
      elseif flag == 'dry_run' then o.dry_run = true
      elseif flag == 'minimize' then o.higher_is_better = false
      elseif flag == 'maximize' then o.higher_is_better = true
      end
    elseif w:match('^%-') then
      -- the script's own option: `--name value`, `--name=value` or a flag
      o.passthrough[#o.passthrough + 1] = w
      local nxt = argv[i + 1]
      if not w:find('=', 1, true) and nxt ~= nil and (not nxt:match('^%-%-') or tonumber(nxt)) then
        o.passthrough[#o.passthrough + 1] = nxt
        i = i + 1
      end
    elseif not o.script then
      o.script = w
    else
      errorf("unexpected argument '%s' (grid values are written --grid NAME=V1,V2)", w)
    end
    i = i + 1
  end
  return o
end

-- Names given in the passthrough words (`--epochs 5` -> epochs).
local function passthrough_names(words)
  local names = {}
  for _, w in ipairs(words) do
    local name = w:match('^%-%-([%a_][%w_%-]*)')
    if name then
      name = name:gsub('%-', '_')
      names[#names + 1] = name
    end
  end
  return names
end

---------------------------------------------------------------- the plan

local function fmt_number(v, integer)
  if integer then return string.format('%d', math.floor(v + 0.5)) end
  return (string.format('%.4g', v))
end

-- One random value as command-line text.
local function sample(spec, rng, decl)
  local integer = spec.kind == 'int' or spec.kind == 'logint' or (decl and decl.type == 'integer')
  if spec.kind == 'choice' then return spec.values[rng(#spec.values)] end
  local u = rng()
  local v
  if spec.kind == 'log' or spec.kind == 'logint' then
    v = math.exp(math.log(spec.lo) + u * (math.log(spec.hi) - math.log(spec.lo)))
  else
    v = spec.lo + u * (spec.hi - spec.lo)
  end
  return fmt_number(v, integer)
end

local function sanitize(s)
  return (s:gsub('[^%w%._=+%-]', '_'))
end

-- The runs to do: list of {index, name, values = {name = text}, seed, dir}.
function sweep.plan(o, decls, sweep_dir)
  local names = {}       -- swept settings in the order given
  local seen = {}
  for _, g in ipairs(o.grid) do
    if seen[g.name] then errorf('%s is swept twice', g.name) end
    seen[g.name] = true
    names[#names + 1] = g.name
  end
  for _, r in ipairs(o.random_specs) do
    if seen[r.name] then errorf('%s is swept twice', r.name) end
    seen[r.name] = true
    names[#names + 1] = r.name
  end
  local configs = {{}}
  for _, g in ipairs(o.grid) do
    local nxt = {}
    for _, c in ipairs(configs) do
      for _, v in ipairs(g.values) do
        local c2 = {}
        for k, x in pairs(c) do c2[k] = x end
        c2[g.name] = v
        nxt[#nxt + 1] = c2
      end
    end
    configs = nxt
  end
  if o.random then
    local seed = o.sweep_seed or 0
    local rng = math.random
    math.randomseed(seed)
    local nxt = {}
    for _, c in ipairs(configs) do
      for _ = 1, o.random do
        local c2 = {}
        for k, x in pairs(c) do c2[k] = x end
        for _, r in ipairs(o.random_specs) do
          c2[r.name] = sample(r, rng, decls and decls[r.name])
        end
        nxt[#nxt + 1] = c2
      end
    end
    configs = nxt
    math.randomseed(os.time())
  end
  local runs = {}
  local seeds = o.seeds or {false}
  for _, c in ipairs(configs) do
    for _, s in ipairs(seeds) do
      local idx = #runs + 1
      local parts = {string.format('%03d', idx)}
      for _, name in ipairs(names) do parts[#parts + 1] = name .. '=' .. c[name] end
      if s then parts[#parts + 1] = 'seed=' .. s end
      local dirname = sanitize(table.concat(parts, '-'))
      if #dirname > 100 then dirname = dirname:sub(1, 100) end
      runs[idx] = {index = idx, name = dirname, values = c, seed = s or nil,
                   dir = sweep_dir and (sweep_dir .. '/' .. dirname) or dirname}
    end
  end
  return runs, names
end

---------------------------------------------------------------- the script's options

function sweep.executable()
  local env = os.getenv('LUACNN_EXE')
  if env and env ~= '' then return env end
  -- the interpreter running us (luacnn, or lua5.4 with LUA_PATH set), by its real path
  local stat = io.open('/proc/self/stat', 'r')
  if stat then
    local pid = (stat:read('l') or ''):match('^(%d+)')
    stat:close()
    if pid then
      local p = io.popen('readlink /proc/' .. pid .. '/exe 2>/dev/null')
      local exe = p and p:read('l')
      if p then p:close() end
      if exe and exe ~= '' then return exe end
    end
  end
  local a = rawget(_G, 'arg')
  if type(a) == 'table' then
    local lowest = 0
    while a[lowest - 1] do lowest = lowest - 1 end
    if lowest < 0 then return a[lowest] end
  end
  return 'luacnn'
end

-- The script's declared settings (from lc.args' --args-json), or nil and why.
function sweep.script_options(exe, script)
  -- a script that never calls lc.args would run for real: the timeout bounds that
  local cmd = string.format('timeout 60 %s %s --args-json 2>&1 </dev/null', run.shell_quote(exe),
                            run.shell_quote(script))
  local p = io.popen(cmd)
  if not p then return nil, 'cannot start ' .. exe end
  local out = p:read('a') or ''
  p:close()
  local last
  for line in out:gmatch('[^\n]+') do
    if line:match('^{') then last = line end
  end
  if not last then
    local first = out:match('[^\n]+') or 'no output'
    return nil, first
  end
  local ok, v = pcall(json.decode, last)
  if not ok or type(v) ~= 'table' or type(v.options) ~= 'table' then return nil, 'unreadable --args-json output' end
  return v.options
end

local function check_names(names, decls, what)
  local args = require 'luacnn.args'
  local valid = {}
  for k in pairs(decls) do valid[#valid + 1] = k end
  table.sort(valid)
  for _, name in ipairs(names) do
    local base = name
    if not decls[base] and base:sub(1, 3) == 'no_' and decls[base:sub(4)] then base = base:sub(4) end
    if not decls[base] then
      local guess = args.suggest(name, valid)
      errorf("%s '%s' is not a setting of the script%s", what, name,
             guess and (" (did you mean '" .. guess .. "'?)") or (' (its settings: ' .. table.concat(valid, ', ') .. ')'))
    end
  end
end

local function check_values(runs, names, decls)
  local args = require 'luacnn.args'
  for _, name in ipairs(names) do
    local d = decls[name]
    local checked = {}
    for _, r in ipairs(runs) do
      local v = r.values[name]
      if not checked[v] then
        checked[v] = true
        local ok, why = args.convert(d, v)
        if ok == nil then errorf("%s=%s: the script's --%s %s", name, v, name, why) end
      end
    end
  end
end

---------------------------------------------------------------- running

local function count_gpus()
  if os.getenv('CUDA_VISIBLE_DEVICES') then return 0 end
  local p = io.popen('nvidia-smi -L 2>/dev/null')
  if not p then return 0 end
  local n = 0
  for line in p:lines() do
    if line:match('^GPU %d') then n = n + 1 end
  end
  p:close()
  return n
end

local function count_cores()
  local p = io.popen('nproc 2>/dev/null')
  local n = p and tonumber(p:read('l') or '')
  if p then p:close() end
  return n or 1
end

function sweep.command(exe, script, r, names, passthrough)
  local q = run.shell_quote
  local parts = {q(exe), q(script)}
  for _, w in ipairs(passthrough) do parts[#parts + 1] = q(w) end
  for _, name in ipairs(names) do
    parts[#parts + 1] = '--' .. name
    parts[#parts + 1] = q(r.values[name])
  end
  if r.seed then
    parts[#parts + 1] = '--seed'
    parts[#parts + 1] = tostring(r.seed)
  end
  parts[#parts + 1] = '--run_dir'
  parts[#parts + 1] = q(r.dir)
  return table.concat(parts, ' ')
end

-- The error a failed run printed: the message above Lua's "stack traceback:" (all its
-- lines, from the one starting "luacnn: "), or else the last line of its log.
function sweep.error_from_log(path)
  local text = run.read_file(path)
  if not text then return nil end
  local lines = {}
  for line in text:gmatch('[^\n]+') do
    if line:match('%S') then lines[#lines + 1] = line end
  end
  for i, line in ipairs(lines) do
    if line:match('^stack traceback:') and i > 1 then
      local first = i - 1
      for j = i - 1, math.max(1, i - 8), -1 do
        if lines[j]:match('^[%w%.%-_]+: ') then first = j break end
      end
      local msg = table.concat(lines, ' ', first, i - 1)
      return (msg:gsub('^lua[%w%.]*: ', ''):gsub('^luacnn: ', ''))
    end
  end
  return lines[#lines]
end

-- Result row of one run from its folder (summary.json, metrics.csv, exit.json).
function sweep.collect(r, metric)
  local res = {index = r.index, name = r.name, dir = r.dir, values = r.values, seed = r.seed}
  local exit = run.read_json(r.dir .. '/exit.json')
  res.status = exit and exit.status or 'pending'
  res.error = exit and exit.error or nil
  res.seconds = exit and exit.seconds or nil
  local summary = run.read_json(r.dir .. '/summary.json')
  if not exit and summary and summary.status == 'interrupted' then res.status = 'interrupted' end
  local final = summary and summary.final or nil
  if not final then
    local rows = run.read_csv(r.dir .. '/metrics.csv')
    final = rows and rows[#rows] or nil
  end
  res.final = final or {}
  res.summary = summary
  local m = metric or (summary and summary.metric) or 'test_acc'
  res.metric = m
  res.value = res.final[m]
  if res.value == nil and summary and summary.metric == m then res.value = summary.value end
  if summary then
    res.higher_is_better = summary.higher_is_better
    res.seconds = summary.seconds or res.seconds
    res.epochs = summary.epochs
  end
  return res
end

local function mark_exit(r, rc, t0, t1)
  local status = rc == 0 and 'ok' or 'failed'
  local err
  local summary = run.read_json(r.dir .. '/summary.json')
  if rc ~= 0 then
    if (summary and summary.status == 'interrupted') or rc == 130 then status = 'interrupted' end
    err = (summary and summary.error) or sweep.error_from_log(r.dir .. '/log.txt')
    if rc > 128 and not err then err = string.format('killed by signal %d', rc - 128) end
    err = err or string.format('exited with status %d', rc)
  end
  local exit = {status = status, exit_code = rc, error = err,
                seconds = (t0 and t1) and (t1 - t0) or nil}
  if run.is_dir(r.dir) then run.write_json(r.dir .. '/exit.json', exit) end
  return exit
end

-- Run the pending runs, `jobs` at a time, calling on_done(r, exit) as each ends.
-- GNU xargs -P keeps the pool full and reports each end on one pipe, so the sweep sleeps in
-- a read instead of polling.
function sweep.execute(ctx, pending, on_start, on_done)
  if #pending == 0 then return end
  local jobs_path = ctx.dir .. '/.jobs'
  local items = {}
  local threads = ctx.jobs > 1 and not os.getenv('OMP_NUM_THREADS') and
                  math.max(1, count_cores() // ctx.jobs) or nil
  local ngpu = ctx.jobs > 1 and count_gpus() or 0
  for _, r in ipairs(pending) do
    run.mkdir(r.dir)
    local env = {}
    if threads then
      env[#env + 1] = string.format('OMP_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d', threads, threads)
    end
    if ngpu > 1 then
      env[#env + 1] = string.format('CUDA_VISIBLE_DEVICES=$((LUACNN_SLOT %% %d))', ngpu)
    end
    local cmd = sweep.command(ctx.exe, ctx.script, r, ctx.names, ctx.passthrough)
    items[#items + 1] = string.format(
      'echo "START %d"; s=$(date +%%s.%%N); %s %s > %s 2>&1 < /dev/null; rc=$?; ' ..
      'e=$(date +%%s.%%N); echo "DONE %d $rc $s $e"',
      r.index, table.concat(env, ' '), cmd, run.shell_quote(r.dir .. '/log.txt'), r.index)
  end
  run.atomic_write(jobs_path, table.concat(items, '\0') .. '\0')
  local by_index = {}
  for _, r in ipairs(pending) do by_index[r.index] = r end
  local p = assert(io.popen(string.format(
    'echo "PID $$"; exec xargs -0 -n 1 -P %d --process-slot-var=LUACNN_SLOT sh -c < %s',
    ctx.jobs, run.shell_quote(jobs_path))))
  local xargs_pid
  local ok, err = pcall(function()
    for line in p:lines() do
      local pid = line:match('^PID (%d+)')
      if pid then xargs_pid = pid end
      local si = line:match('^START (%d+)')
      if si and on_start then on_start(by_index[tonumber(si)]) end
      local di, rc, t0, t1 = line:match('^DONE (%d+) (%d+) (%S+) (%S+)')
      if di then
        local r = by_index[tonumber(di)]
        local exit = mark_exit(r, tonumber(rc), tonumber(t0), tonumber(t1))
        on_done(r, exit)
      end
    end
  end)
  if not ok then
    -- interrupted (or failed) while runs were going: start no more of them
    if xargs_pid then os.execute('kill -TERM ' .. xargs_pid .. ' 2>/dev/null') end
    pcall(p.close, p)
    os.remove(jobs_path)
    error(err, 0)
  end
  p:close()
  os.remove(jobs_path)
end

---------------------------------------------------------------- output

-- Text table: header list, rows of strings. Columns of numbers ('-' for none) are
-- right-aligned, header included.
function sweep.format_table(header, rows)
  local w, numeric = {}, {}
  local function len(c) return utf8.len(c) or #c end
  for j, h in ipairs(header) do w[j] = len(h); numeric[j] = true end
  for _, row in ipairs(rows) do
    for j = 1, #header do
      local c = row[j] or ''
      w[j] = math.max(w[j], len(c))
      if c ~= '' and c ~= '-' and not tonumber(c) then numeric[j] = false end
    end
  end
  local function line(cells)
    local out = {}
    for j = 1, #header do
      local c = cells[j] or ''
      local pad = string.rep(' ', w[j] - len(c))
      out[j] = numeric[j] and (pad .. c) or (c .. pad)
    end
    return ((' ' .. table.concat(out, '  ')):gsub('%s+$', ''))
  end
  local out = {line(header)}
  for _, row in ipairs(rows) do out[#out + 1] = line(row) end
  return table.concat(out, '\n')
end

-- An error for a table cell: one line, the script's folder dropped from its position
-- ("/long/path/lenet.lua:31: msg" -> "lenet.lua:31: msg"), cut to n characters.
function sweep.short_error(e, n)
  e = tostring(e):gsub('%s+', ' '):gsub('^[^%s:]*/([^/%s:]+:%d+:)', '%1')
  if #e > n then e = e:sub(1, n - 3) .. '...' end
  return e
end

local function fnum(v, fmt)
  if type(v) ~= 'number' then return v ~= nil and tostring(v) or '-' end
  if v ~= v then return 'nan' end
  return string.format(fmt, v)
end

local function better(higher)
  return function(a, b)
    local ao, bo = a.status == 'ok' and type(a.value) == 'number', b.status == 'ok' and type(b.value) == 'number'
    if ao ~= bo then return ao end
    if ao and a.value ~= b.value then
      if higher then return a.value > b.value end
      return a.value < b.value
    end
    return a.index < b.index
  end
end

local function metric_columns(results, metric)
  local cols = {}
  for _, c in ipairs{'train_loss', 'train_acc', 'test_acc', 'valid_acc'} do
    for _, res in ipairs(results) do
      if res.final[c] ~= nil or c == metric then cols[#cols + 1] = c break end
    end
  end
  local has = false
  for _, c in ipairs(cols) do if c == metric then has = true end end
  if not has then cols[#cols + 1] = metric end
  return cols
end

function sweep.print_table(results, ctx)
  local mcols = metric_columns(results, ctx.metric)
  local header = {}
  for _, n in ipairs(ctx.names) do header[#header + 1] = n end
  if ctx.seeds then header[#header + 1] = 'seed' end
  local pretty = {train_loss = 'train loss', train_acc = 'train acc', test_acc = 'test acc',
                  valid_acc = 'valid acc'}
  for _, c in ipairs(mcols) do header[#header + 1] = pretty[c] or c end
  header[#header + 1] = 'ex/s'
  header[#header + 1] = 'time (s)'
  header[#header + 1] = 'status'
  local rows = {}
  for _, res in ipairs(results) do
    local row = {}
    for _, n in ipairs(ctx.names) do row[#row + 1] = res.values[n] end
    if ctx.seeds then row[#row + 1] = tostring(res.seed or '') end
    for _, c in ipairs(mcols) do row[#row + 1] = fnum(res.final[c], c:find('loss') and '%.4f' or '%.4f') end
    row[#row + 1] = fnum(res.final.examples_per_sec, '%.1f')
    row[#row + 1] = fnum(res.seconds, '%.1f')
    local status = res.status
    if res.status ~= 'ok' and res.error then status = status .. ': ' .. sweep.short_error(res.error, 70) end
    row[#row + 1] = status
    rows[#rows + 1] = row
  end
  return sweep.format_table(header, rows)
end

function sweep.write_results(path, results, ctx)
  local mcols = metric_columns(results, ctx.metric)
  local cols = {'rank', 'run', 'status'}
  for _, n in ipairs(ctx.names) do cols[#cols + 1] = n end
  if ctx.seeds then cols[#cols + 1] = 'seed' end
  cols[#cols + 1] = 'epochs'
  for _, c in ipairs(mcols) do cols[#cols + 1] = c end
  cols[#cols + 1] = 'examples_per_sec'
  cols[#cols + 1] = 'seconds'
  cols[#cols + 1] = 'error'
  cols[#cols + 1] = 'dir'
  local rows = {}
  for rank, res in ipairs(results) do
    local row = {rank = rank, run = res.name, status = res.status, seed = res.seed,
                 epochs = res.epochs or res.final.epoch, examples_per_sec = res.final.examples_per_sec,
                 seconds = res.seconds, error = res.error, dir = res.dir}
    for _, n in ipairs(ctx.names) do
      local v = res.values[n]
      row[n] = tonumber(v) or v
    end
    for _, c in ipairs(mcols) do row[c] = res.final[c] end
    rows[#rows + 1] = row
  end
  return run.write_csv(path, cols, rows)
end

-- Positive numbers spread evenly in log space (0.1, 0.3, 0.9 or 1e-3 .. 1) read best on a
-- log axis.
local function looks_log(xs, spec)
  if spec and (spec.kind == 'log' or spec.kind == 'logint') then return true end
  if spec and (spec.kind == 'lin' or spec.kind == 'int') then return false end
  local v = {}
  for _, x in ipairs(xs) do
    if x <= 0 then return false end
    v[#v + 1] = x
  end
  table.sort(v)
  if #v < 3 then return #v == 2 and v[2] / v[1] >= 10 end
  if v[#v] / v[1] >= 100 then return true end
  local ratios = {}
  for i = 2, #v do ratios[#ratios + 1] = v[i] / v[i - 1] end
  local lo, hi = math.huge, 0
  for _, r in ipairs(ratios) do lo, hi = math.min(lo, r), math.max(hi, r) end
  return lo >= 1.8 and hi / lo <= 1.6
end

local function mean(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return s / #t
end

-- One chart per swept setting: the metric against the setting, one line per value of the
-- other setting when there is exactly one other (a 2-D grid), points otherwise.
function sweep.plot_results(results, ctx)
  local plot = require 'luacnn.plot'
  if not plot.available() then return {} end
  local ok_runs = {}
  for _, res in ipairs(results) do
    if res.status == 'ok' and type(res.value) == 'number' and res.value == res.value then
      ok_runs[#ok_runs + 1] = res
    end
  end
  -- plan order, so that categories and legends follow the grid, not the ranking
  table.sort(ok_runs, function(a, b) return a.index < b.index end)
  local paths = {}
  if #ok_runs == 0 then return paths end
  local random_spec = {}
  for _, r in ipairs(ctx.random_specs or {}) do random_spec[r.name] = r end
  for _, name in ipairs(ctx.names) do
    -- x positions: numbers, or categories in order of first appearance
    local numeric, cats, catpos = true, {}, {}
    for _, res in ipairs(ok_runs) do
      local v = res.values[name]
      if tonumber(v) == nil then numeric = false end
      if not catpos[v] then cats[#cats + 1] = v; catpos[v] = #cats end
    end
    local function xpos(v) return numeric and tonumber(v) or catpos[v] end
    local xs, xseen = {}, {}
    for _, res in ipairs(ok_runs) do
      local x = xpos(res.values[name])
      if not xseen[x] then xseen[x] = true; xs[#xs + 1] = x end
    end
    local xlog = numeric and looks_log(xs, random_spec[name])
    -- group by the other swept settings
    local others = {}
    for _, n2 in ipairs(ctx.names) do if n2 ~= name then others[#others + 1] = n2 end end
    local groups, order = {}, {}
    local is_grid = not ctx.random
    for _, res in ipairs(ok_runs) do
      local key = {}
      for _, n2 in ipairs(others) do key[#key + 1] = n2 .. '=' .. res.values[n2] end
      local k = (is_grid and #others > 0) and table.concat(key, ' ') or ''
      if not groups[k] then groups[k] = {}; order[#order + 1] = k end
      table.insert(groups[k], res)
      groups[k].first = math.min(groups[k].first or math.huge, res.index)
    end
    -- legend in the order of the plan (the grid's order of values), not of the ranking
    table.sort(order, function(a, b) return groups[a].first < groups[b].first end)
    local series = {}
    local as_lines = is_grid and #order <= 8
    for gi, k in ipairs(order) do
      local color = plot.palette(gi)
      local by_x, xorder = {}, {}
      for _, res in ipairs(groups[k]) do
        local x = xpos(res.values[name])
        if not by_x[x] then by_x[x] = {}; xorder[#xorder + 1] = x end
        table.insert(by_x[x], res.value)
      end
      table.sort(xorder)
      if as_lines then
        local X, Y = {}, {}
        for i, x in ipairs(xorder) do X[i] = x; Y[i] = mean(by_x[x]) end
        local label = k ~= '' and k or ctx.metric
        if ctx.seeds and #ctx.seeds > 1 then label = label .. ' (mean of ' .. #ctx.seeds .. ' seeds)' end
        series[#series + 1] = {name = label, x = X, y = Y, color = color, marker = 'circle'}
        if ctx.seeds and #ctx.seeds > 1 then
          local PX, PY = {}, {}
          for _, x in ipairs(xorder) do
            for _, v in ipairs(by_x[x]) do PX[#PX + 1] = x; PY[#PY + 1] = v end
          end
          series[#series + 1] = {x = PX, y = PY, color = color, dash = 'none', alpha = 0.35}
        end
      else
        local PX, PY = {}, {}
        for _, x in ipairs(xorder) do
          for _, v in ipairs(by_x[x]) do PX[#PX + 1] = x; PY[#PY + 1] = v end
        end
        series[#series + 1] = {name = #order > 1 and k or nil, x = PX, y = PY, color = color,
                               dash = 'none', marker = 'circle'}
      end
    end
    local path = string.format('%s/%s_vs_%s.png', ctx.dir, sanitize(ctx.metric), sanitize(name))
    local ok, err = pcall(plot.lines, {
      path = path, series = series, xlog = xlog, xlabel = name, ylabel = ctx.metric,
      title = string.format('%s: %s vs %s (%d runs)', ctx.script_name, ctx.metric, name, #ok_runs),
      xticklabels = not numeric and cats or nil,
    })
    if ok then paths[#paths + 1] = path
    else io.stderr:write('sweep: cannot draw ', path, ': ', tostring(err), '\n') end
  end
  return paths
end

---------------------------------------------------------------- main

local function latest_sweep(root, script_name)
  local pattern = string.format('%s/sweep-%s-*', root, script_name)
  local p = io.popen('ls -1d ' .. run.shell_quote(root) .. '/' ..
                     run.shell_quote('sweep-' .. script_name .. '-') .. '* 2>/dev/null')
  local best
  for line in p:lines() do
    if run.exists(line .. '/sweep.json') and (not best or line > best) then best = line end
  end
  p:close()
  return best, pattern
end

local function same_plan(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i].name ~= b[i].name then return false end
  end
  return true
end

local function usage()
  local src = debug.getinfo(1, 'S').source:gsub('^@', '')
  local text = run.read_file(src) or ''
  local lines = {}
  for line in text:gmatch('[^\n]*') do
    if not line:match('^%-%-') then break end
    lines[#lines + 1] = line:gsub('^%-%- ?', '')
  end
  return table.concat(lines, '\n')
end

local function say(...)
  io.stdout:write(...)
  io.stdout:write('\n')
  io.stdout:flush()
end

local function main(argv)
  local o = sweep.parse_cli(argv)
  if o.help or not o.script then
    say(usage())
    return o.help and 0 or 2
  end
  local args = require 'luacnn.args'
  local script_name = args.script_name(o.script)
  if not run.exists(o.script) then errorf("cannot find the script '%s'", o.script) end
  local exe = sweep.executable()

  -- where: a new folder, or the one to resume
  local dir = o.dir
  if o.resume and not dir then
    dir = latest_sweep('runs', script_name)
    if not dir then errorf('nothing to resume: no runs/sweep-%s-* folder with a sweep.json (give --dir)', script_name) end
  end
  local stored = dir and run.read_json(dir .. '/sweep.json')
  if o.resume and not stored then errorf("nothing to resume in '%s' (no sweep.json)", dir) end
  if not o.resume and stored then
    errorf("'%s' already holds a sweep: add --resume to continue it, or choose another --dir", dir)
  end
  if not dir then
    local base = string.format('runs/sweep-%s-%s', script_name, run.timestamp())
    dir = base
    local k = 2
    while run.exists(dir) do dir = base .. '-' .. k; k = k + 1 end
  end

  local ctx = {dir = dir, exe = exe, script = o.script, script_name = script_name, jobs = o.jobs}
  local runs
  if stored then
    -- the stored plan is the truth: the same runs (and random draws) as before
    ctx.names = stored.names or {}
    ctx.passthrough = #o.passthrough > 0 and o.passthrough or stored.passthrough or {}
    ctx.seeds = stored.seeds
    ctx.random = stored.random
    ctx.random_specs = stored.random_specs
    ctx.metric = o.metric or stored.metric
    ctx.higher_is_better = o.higher_is_better
    if ctx.higher_is_better == nil then ctx.higher_is_better = stored.higher_is_better end
    if stored.script and stored.script ~= o.script then
      say(string.format("sweep: note: '%s' was planned for %s; resuming with %s", dir, stored.script, o.script))
    end
    runs = {}
    for i, r in ipairs(stored.runs or {}) do
      runs[i] = {index = r.index or i, name = r.name, values = r.values or {}, seed = r.seed,
                 dir = dir .. '/' .. r.name}
    end
    if #o.grid > 0 or o.random then
      local fresh = sweep.plan(o, nil, dir)
      if not same_plan(fresh, runs) then
        errorf("'%s' was planned with other settings; resume it without --grid/--random, or start a new sweep", dir)
      end
    end
  else
    if #o.grid == 0 and not o.random then
      errorf('nothing to sweep: give --grid NAME=V1,V2,... or --random N NAME=SPEC')
    end
    o.sweep_seed = o.sweep_seed or os.time()
    ctx.passthrough = o.passthrough
    ctx.seeds = o.seeds
    ctx.random = o.random
    ctx.random_specs = o.random_specs
    ctx.metric = o.metric
    ctx.higher_is_better = o.higher_is_better
    -- check the names against the script before starting anything
    local decls, why = sweep.script_options(exe, o.script)
    local planned, names = sweep.plan(o, decls, dir)
    if decls then
      check_names(names, decls, 'swept setting')
      check_names(passthrough_names(o.passthrough), decls, 'option')
      check_values(planned, names, decls)
    else
      say('sweep: could not read the settings of ' .. o.script .. ' (' .. tostring(why) .. '); not checking names')
    end
    for _, n in ipairs(passthrough_names(o.passthrough)) do
      for _, m in ipairs(names) do
        if n == m then errorf('%s is both swept and fixed (--%s)', n, n) end
      end
      if n == 'run_dir' then errorf('--run_dir is set by the sweep for each run (use --dir for the sweep folder)') end
      if n == 'seed' and o.seeds then errorf('--seed and --seeds both given') end
    end
    ctx.names = names
    runs = planned
  end

  if o.dry_run then
    say(string.format('sweep: %d runs of %s -> %s', #runs, o.script, dir))
    for _, r in ipairs(runs) do say('  ' .. sweep.command(exe, o.script, r, ctx.names, ctx.passthrough)) end
    return 0
  end

  run.mkdir(dir)
  if not stored then
    local plan = {}
    for i, r in ipairs(runs) do plan[i] = {index = r.index, name = r.name, values = r.values, seed = r.seed} end
    run.write_json(dir .. '/sweep.json', {
      format = 'luacnn-sweep/1', script = o.script, names = json.array(ctx.names),
      passthrough = json.array(ctx.passthrough), seeds = ctx.seeds, random = ctx.random,
      random_specs = ctx.random_specs, sweep_seed = o.sweep_seed, metric = ctx.metric,
      higher_is_better = ctx.higher_is_better, jobs = ctx.jobs, runs = plan,
      created = os.date('!%Y-%m-%dT%H:%M:%SZ'), argv = json.array(argv),
    })
  end

  local pending, done = {}, 0
  for _, r in ipairs(runs) do
    local exit = run.read_json(r.dir .. '/exit.json')
    if exit and exit.status == 'ok' then done = done + 1 else pending[#pending + 1] = r end
  end
  local total = #runs
  say(string.format('sweep: %d runs of %s%s, %d at a time -> %s', total, o.script,
                    done > 0 and string.format(' (%d already finished, skipped)', done) or '',
                    ctx.jobs, dir))

  local function results_now()
    local res = {}
    for _, r in ipairs(runs) do res[#res + 1] = sweep.collect(r, ctx.metric) end
    if not ctx.metric then
      for _, x in ipairs(res) do
        if x.status == 'ok' and x.summary and x.summary.metric then ctx.metric = x.summary.metric break end
      end
      ctx.metric = ctx.metric or 'test_acc'
      for _, x in ipairs(res) do
        if x.value == nil then x.value = x.final[ctx.metric] end
      end
    end
    if ctx.higher_is_better == nil then
      for _, x in ipairs(res) do
        if x.higher_is_better ~= nil then ctx.higher_is_better = x.higher_is_better break end
      end
      if ctx.higher_is_better == nil then
        ctx.higher_is_better = not (ctx.metric:find('loss') or ctx.metric:find('err'))
      end
    end
    table.sort(res, better(ctx.higher_is_better))
    return res
  end

  local finished = done
  local function describe(r)
    local parts = {}
    for _, n in ipairs(ctx.names) do parts[#parts + 1] = n .. '=' .. r.values[n] end
    if r.seed then parts[#parts + 1] = 'seed=' .. r.seed end
    return table.concat(parts, ' ')
  end
  local ok, err = pcall(sweep.execute, ctx, pending,
    function(r)
      if ctx.jobs > 1 then say(string.format('  start  %s', describe(r))) end
    end,
    function(r, exit)
      finished = finished + 1
      local res = sweep.collect(r, ctx.metric)
      local m = ctx.metric or res.metric
      local v = res.final[m]
      local what
      if exit.status == 'ok' then
        what = string.format('%s %s', m, fnum(v, '%.4f'))
      else
        what = string.format('%s: %s', exit.status:upper(), sweep.short_error(exit.error, 100))
      end
      say(string.format('[%d/%d] %s  %s  (%.1f s)', finished, total, describe(r), what, exit.seconds or 0))
      local okw, werr = pcall(sweep.write_results, dir .. '/results.csv', results_now(), ctx)
      if not okw then io.stderr:write('sweep: cannot write results.csv: ', tostring(werr), '\n') end
    end)
  local results = results_now()
  sweep.write_results(dir .. '/results.csv', results, ctx)
  if not ok then
    if run.is_interrupt(err) then
      say(sweep.print_table(results, ctx))
      say(string.format('\nsweep interrupted: %d of %d runs finished. Continue with:\n  luacnn sweep %s --resume --dir %s',
                        finished, total, o.script, dir))
      return 130
    end
    error(err, 0)
  end
  local paths = sweep.plot_results(results, ctx)
  say('')
  say(sweep.print_table(results, ctx))
  local failed = 0
  for _, res in ipairs(results) do if res.status ~= 'ok' then failed = failed + 1 end end
  say('')
  if failed > 0 then say(string.format('%d of %d runs failed (errors in results.csv and each run\'s log.txt)', failed, total)) end
  say(string.format('results: %s/results.csv%s', dir,
                    #paths > 0 and ('   plot: ' .. table.concat(paths, ' ')) or ''))
  return 0
end

-- Entry point for `luacnn sweep ...`: returns the exit status (0 ok, 2 bad usage, 130
-- interrupted); prints its own messages.
function sweep.main(argv)
  local ok, code = pcall(main, argv or {})
  if ok then return code end
  if type(code) == 'table' and code.sweep_error then
    io.stderr:write('sweep: ', code.sweep_error, '\n')
    return 2
  end
  if run.is_interrupt(code) then
    io.stderr:write('sweep: interrupted\n')
    return 130
  end
  error(code, 0)
end

return sweep

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
-- Exit status: 0 when every run finished, 1 when any failed (after the table), 2 for a
-- mistake on the command line (a misspelt option such as --gird is caught before anything
-- runs), 130 when interrupted.
--
-- The sweep folder holds sweep.json (the plan: resuming reruns exactly it), one run folder per
-- run (config.json, metrics.csv, summary.json, curves.png, log.txt with the run's output, and
-- exit.json written by the sweep when the run ends: the marker --resume reads), results.csv
-- (one row per run, failed ones with their error) and <metric>_vs_<setting>.png.

-- (The comment above is also the command's --help text: usage() prints it.)
-- This file is the command: its options and the order of the steps. The steps live in
-- luacnn.sweep.plan (the runs to do, sweep.json), .launch (running them), .results
-- (reading and ranking what the runs left) and .report (progress lines, table, CSV, plots).
local run = require 'luacnn.run'
local command = require 'luacnn.sweep.command'
local plan = require 'luacnn.sweep.plan'
local launch = require 'luacnn.sweep.launch'
local results = require 'luacnn.sweep.results'
local report = require 'luacnn.sweep.report'

local sweep = {}

local say = command.say

local function errorf(fmt, ...)
  command.usage_error('sweep', fmt, ...)
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
    if a ~= a or b ~= b or math.abs(a) == math.huge or math.abs(b) == math.huge then
      errorf("--random %s: bounds must be finite, got '%s' and '%s'", name, lo, hi)
    end
    if (kind == 'int' or kind == 'logint') and (math.abs(a) > 2 ^ 53 or math.abs(b) > 2 ^ 53) then
      errorf("--random %s: integer bounds must lie within +-2^53, got '%s' and '%s'", name, lo, hi)
    end
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
          if k < 1 or k > 100000 then errorf('--seeds expects a count from 1 to 100000, got %s', v) end
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

-- The comment at the top of this file, as text.
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

-- Where the sweep lives: --dir, or the latest sweep of the script to resume, or a new
-- runs/sweep-<script>-<time>; and the plan stored there (nil for a new sweep).
local function sweep_dir(o, script_name)
  local dir = o.dir
  if o.resume and not dir then
    dir = plan.latest('runs', script_name)
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
  return dir, stored
end

-- The runs of a resumed sweep: the stored plan is the truth (the same runs and random draws
-- as before); the command line may change the metric, its direction and the fixed options.
local function resumed_runs(o, stored, ctx)
  local dir = ctx.dir
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
  local runs = plan.stored_runs(stored, dir)
  if #o.grid > 0 or o.random then
    local fresh = plan.make(o, nil, dir)
    if not plan.same(fresh, runs) then
      errorf("'%s' was planned with other settings; resume it without --grid/--random, or start a new sweep", dir)
    end
  end
  return runs
end

-- The sweep's own options, as written on the command line.
local function sweep_flag_names()
  local out = {}
  for k in pairs(sweep_flags) do out[#out + 1] = (k:gsub('_', '-')) end
  table.sort(out)
  return out
end

-- An option that is neither the sweep's nor the script's is a mistake, most often a
-- misspelt sweep option (--gird) that would otherwise go to every run: stop before
-- anything runs, with the nearest name of either. decls: the script's settings (nil when
-- they could not be read: then only near misses of the sweep's own options are caught).
function sweep.check_options(o, decls)
  local suggest = require 'luacnn.suggest'
  for _, w in ipairs(o.passthrough) do
    local name = w:match('^%-%-([%a_][%w_%-]*)')
    if name then
      local key = name:gsub('%-', '_')
      local known = decls and (decls[key] or (key:sub(1, 3) == 'no_' and decls[key:sub(4)]))
      if not known then
        -- (names near the script's own settings are left to plan.check, which says so)
        local sweep_guess = suggest.nearest((name:gsub('_', '-')), sweep_flag_names())
        if sweep_guess then
          errorf('unknown option --%s: not a setting of %s (did you mean the sweep option --%s?)',
                 name, o.script, sweep_guess)
        end
      end
    end
  end
end

-- The runs of a new sweep, checked against the script's settings before anything starts.
local function new_runs(o, ctx)
  local decls, why = plan.script_options(ctx.exe, o.script)
  sweep.check_options(o, decls)
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
  local runs, names = plan.make(o, decls, ctx.dir)
  if not decls then
    say('sweep: could not read the settings of ' .. o.script .. ' (' .. tostring(why) .. '); not checking names')
  end
  plan.check(o, runs, names, decls)
  ctx.names = names
  return runs
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
  local exe = launch.executable()

  local dir, stored = sweep_dir(o, script_name)
  local ctx = {dir = dir, exe = exe, script = o.script, script_name = script_name, jobs = o.jobs}
  local runs
  if stored then runs = resumed_runs(o, stored, ctx) else runs = new_runs(o, ctx) end

  if o.dry_run then
    say(string.format('sweep: %d runs of %s -> %s', #runs, o.script, dir))
    for _, r in ipairs(runs) do say('  ' .. launch.command(exe, o.script, r, ctx.names, ctx.passthrough)) end
    return 0
  end

  run.mkdir(dir)
  if not stored then plan.save(dir, runs, ctx, o, argv) end

  local pending, done = launch.pending(runs)
  local total = #runs
  say(string.format('sweep: %d runs of %s%s, %d at a time -> %s', total, o.script,
                    done > 0 and string.format(' (%d already finished, skipped)', done) or '',
                    ctx.jobs, dir))

  local finished = done
  local ok, err = pcall(launch.execute, ctx, pending,
    function(r)
      if ctx.jobs > 1 then say(string.format('  start  %s', report.describe(r, ctx.names))) end
    end,
    function(r, exit)
      finished = finished + 1
      local res = results.collect(r, ctx.metric)
      say(report.progress(finished, total, r, exit, res, ctx))
      -- rewritten as each run ends, so that a killed sweep leaves its results so far
      local okw, werr = pcall(report.write_results, dir .. '/results.csv', results.ranked(runs, ctx), ctx)
      if not okw then io.stderr:write('sweep: cannot write results.csv: ', tostring(werr), '\n') end
    end)
  local ranked = results.ranked(runs, ctx)
  report.write_results(dir .. '/results.csv', ranked, ctx)
  if not ok then
    if run.is_interrupt(err) then
      say(report.print_table(ranked, ctx))
      say(string.format('\nsweep interrupted: %d of %d runs finished. Continue with:\n  luacnn sweep %s --resume --dir %s',
                        finished, total, o.script, dir))
      return 130
    end
    error(err, 0)
  end
  local paths = report.plot_results(ranked, ctx)
  say('')
  say(report.print_table(ranked, ctx))
  local failed = 0
  for _, res in ipairs(ranked) do if res.status ~= 'ok' then failed = failed + 1 end end
  say('')
  if failed > 0 then say(string.format('%d of %d runs failed (errors in results.csv and each run\'s log.txt)', failed, total)) end
  say(string.format('results: %s/results.csv%s', dir,
                    #paths > 0 and ('   plot: ' .. table.concat(paths, ' ')) or ''))
  -- a failed run fails the sweep (after the table), so that scripts and CI notice
  return failed > 0 and 1 or 0
end

-- Entry point for `luacnn sweep ...`: returns the exit status (0 ok, 2 bad usage, 130
-- interrupted); prints its own messages.
function sweep.main(argv)
  return command.main('sweep', main, argv, true)
end

-- The steps, under the names this module has always given them.
sweep.plan = plan.make
sweep.script_options = plan.script_options
sweep.executable = launch.executable
sweep.command = launch.command
sweep.error_from_log = launch.error_from_log
sweep.execute = launch.execute
sweep.collect = results.collect
sweep.format_table = report.format_table
sweep.short_error = report.short_error
sweep.print_table = report.print_table
sweep.write_results = report.write_results
sweep.plot_results = report.plot_results

return sweep

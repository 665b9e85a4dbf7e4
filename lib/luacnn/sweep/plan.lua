-- The plan of a sweep: the runs to do (every grid combination, times the random draws,
-- times the seeds), each with its setting values, name and folder; checked against the
-- script's declared settings before anything starts; written to sweep.json, and read back
-- from it when a sweep is resumed, so that a resume reruns exactly the same runs.
local run = require 'luacnn.run'
local json = require 'luacnn.json'
local command = require 'luacnn.sweep.command'

local plan = {}
plan.MAX_RUNS = 100000

local function errorf(fmt, ...)
  command.usage_error('sweep', fmt, ...)
end

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

-- Text safe in a file name: what is not a letter, digit or ._=+- becomes _.
function plan.sanitize(s)
  return (s:gsub('[^%w%._=+%-]', '_'))
end

-- The runs to do: list of {index, name, values = {name = text}, seed, dir}, and the swept
-- names in the order given.
function plan.make(o, decls, sweep_dir)
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
  -- the size first: a typo such as --random 5000000000 is an error, not hours of planning
  local total = 1.0 * (o.random or 1) * #(o.seeds or {false})  -- a float: no integer wrap-around
  for _, g in ipairs(o.grid) do total = total * math.max(#g.values, 1) end
  if total > plan.MAX_RUNS then
    errorf('a sweep of %.0f runs is too many (at most %d)', total, plan.MAX_RUNS)
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
      local dirname = plan.sanitize(table.concat(parts, '-'))
      if #dirname > 100 then dirname = dirname:sub(1, 100) end
      runs[idx] = {index = idx, name = dirname, values = c, seed = s or nil,
                   dir = sweep_dir and (sweep_dir .. '/' .. dirname) or dirname}
    end
  end
  return runs, names
end

---------------------------------------------------------------- checked against the script

-- The script's declared settings (from lc.args' --args-json), or nil and why.
function plan.script_options(exe, script)
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
-- Stops before anything starts when the plan does not fit the script: unknown names or
-- values that its declared settings (decls, nil when unread) reject, and options that the
-- sweep sets itself.
function plan.check(o, runs, names, decls)
  if decls then
    check_names(names, decls, 'swept setting')
    check_names(passthrough_names(o.passthrough), decls, 'option')
    check_values(runs, names, decls)
  end
  for _, n in ipairs(passthrough_names(o.passthrough)) do
    for _, m in ipairs(names) do
      if n == m then errorf('%s is both swept and fixed (--%s)', n, n) end
    end
    if n == 'run_dir' then errorf('--run_dir is set by the sweep for each run (use --dir for the sweep folder)') end
    if n == 'seed' and o.seeds then errorf('--seed and --seeds both given') end
  end
end

---------------------------------------------------------------- sweep.json

-- The newest sweep folder of the script under root that holds a sweep.json (the timestamp
-- in the names sorts them), and the pattern searched.
function plan.latest(root, script_name)
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

-- Whether two plans hold the same runs (by their names, which carry the values), in order.
function plan.same(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i].name ~= b[i].name then return false end
  end
  return true
end

-- Writes the plan and the settings it was made with to DIR/sweep.json.
function plan.save(dir, runs, ctx, o, argv)
  local stored = {}
  for i, r in ipairs(runs) do stored[i] = {index = r.index, name = r.name, values = r.values, seed = r.seed} end
  run.write_json(dir .. '/sweep.json', {
    format = 'luacnn-sweep/1', script = o.script, names = json.array(ctx.names),
    passthrough = json.array(ctx.passthrough), seeds = ctx.seeds, random = ctx.random,
    random_specs = ctx.random_specs, sweep_seed = o.sweep_seed, metric = ctx.metric,
    higher_is_better = ctx.higher_is_better, jobs = ctx.jobs, runs = stored,
    created = os.date('!%Y-%m-%dT%H:%M:%SZ'), argv = json.array(argv),
  })
end

-- The runs of a stored plan (sweep.json read as a table), their folders under dir.
function plan.stored_runs(stored, dir)
  local runs = {}
  -- a hand-edited or damaged sweep.json is a usage error naming the run, not a crash
  if type(stored) ~= 'table' or (stored.runs ~= nil and type(stored.runs) ~= 'table') then
    errorf("'%s/sweep.json' holds no list of runs", dir)
  end
  local seen = {}
  for i, r in ipairs(stored.runs or {}) do
    if type(r) ~= 'table' or type(r.name) ~= 'string' or r.name == '' or r.name:find('/', 1, true)
       or r.name:match('^%.%.?$') or seen[r.name] then
      errorf("'%s/sweep.json': run %d has a missing, repeated or unsafe name", dir, i)
    end
    seen[r.name] = true
    if r.values ~= nil and type(r.values) ~= 'table' then
      errorf("'%s/sweep.json': run %d (%s) has no table of values", dir, i, r.name)
    end
    for k, v in pairs(r.values or {}) do
      if type(k) ~= 'string' or (type(v) ~= 'string' and type(v) ~= 'number') then
        errorf("'%s/sweep.json': run %d (%s) has a bad value for %s", dir, i, r.name, tostring(k))
      end
    end
    if r.seed ~= nil and math.type(r.seed) ~= 'integer' then
      errorf("'%s/sweep.json': run %d (%s) has a seed that is not an integer", dir, i, r.name)
    end
    runs[i] = {index = math.type(r.index) == 'integer' and r.index or i, name = r.name,
               values = r.values or {}, seed = r.seed, dir = dir .. '/' .. r.name}
  end
  return runs
end

return plan

-- Launching a sweep's runs: the interpreter and command line of each run, `jobs` of them at
-- a time (CPU threads shared out, GPUs dealt round-robin), and each run's exit.json when it
-- ends: its status and error, and the marker --resume reads to skip finished runs.
local run = require 'luacnn.run'

local launch = {}

-- The interpreter to run the script with: $LUACNN_EXE, else the one running the sweep.
function launch.executable()
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

-- GPUs to deal the runs out to (none when CUDA_VISIBLE_DEVICES already chose).
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

-- The shell command of one run: the script, the fixed options, the run's values, its seed
-- and its folder.
function launch.command(exe, script, r, names, passthrough)
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
function launch.error_from_log(path)
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

-- Writes the run's exit.json (status, exit code, error, seconds) and returns it.
local function mark_exit(r, rc, t0, t1)
  local status = rc == 0 and 'ok' or 'failed'
  local err
  local summary = run.read_json(r.dir .. '/summary.json')
  if rc ~= 0 then
    if (summary and summary.status == 'interrupted') or rc == 130 then status = 'interrupted' end
    err = (summary and summary.error) or launch.error_from_log(r.dir .. '/log.txt')
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
function launch.execute(ctx, pending, on_start, on_done)
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
    local cmd = launch.command(ctx.exe, ctx.script, r, ctx.names, ctx.passthrough)
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


-- The runs still to do (all but those whose exit.json says ok), and how many are done.
function launch.pending(runs)
  local pending, done = {}, 0
  for _, r in ipairs(runs) do
    local exit = run.read_json(r.dir .. '/exit.json')
    if exit and exit.status == 'ok' then done = done + 1 else pending[#pending + 1] = r end
  end
  return pending, done
end

return launch

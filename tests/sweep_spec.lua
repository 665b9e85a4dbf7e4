-- `luacnn sweep`: planning, running (in parallel), failures, resume after a kill, results.
-- The runs are tests/fixtures/fake_train.lua: metrics that follow from the settings, so the
-- best run is known, and a failure on purpose when lr > fail_above_lr.
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')
local sweep = require 'luacnn.cli.sweep'
local run = require 'luacnn.run'

local function cli_error(argv)
  local ok, err = pcall(sweep.parse_cli, argv)
  assert.is_false(ok)
  return err.sweep_error
end

local function results(dir)
  local rows = assert(run.read_csv(dir .. '/results.csv'))
  return rows
end

local function sweep_dir_of(out)
  return out:match('%-> (%S+)')
end

describe('sweep command line', function()
  it('reads grids, seeds, jobs and passes the rest to the script', function()
    local o = sweep.parse_cli{'scripts/lenet.lua', '--grid', 'lr=0.1,0.3,0.9', 'batch-size=128,256',
                              '--epochs', '5', '--seeds', '3', '--jobs=2', '--augment', '--device', 'cpu'}
    assert.equal('scripts/lenet.lua', o.script)
    assert.equal(2, #o.grid)
    assert.same({name = 'lr', values = {'0.1', '0.3', '0.9'}}, o.grid[1])
    assert.same({name = 'batch_size', values = {'128', '256'}}, o.grid[2])
    assert.same({1, 2, 3}, o.seeds)
    assert.equal(2, o.jobs)
    assert.same({'--epochs', '5', '--augment', '--device', 'cpu'}, o.passthrough)
  end)

  it('reads random search specs', function()
    local o = sweep.parse_cli{'s.lua', '--random', '20', 'lr=log:1e-3:1', 'wd=lin:0:0.1',
                              'opt=sgd,adam', 'bs=logint:16:512'}
    assert.equal(20, o.random)
    assert.same({name = 'lr', kind = 'log', lo = 1e-3, hi = 1}, o.random_specs[1])
    assert.same({name = 'wd', kind = 'lin', lo = 0, hi = 0.1}, o.random_specs[2])
    assert.same({name = 'opt', kind = 'choice', values = {'sgd', 'adam'}}, o.random_specs[3])
    assert.equal('logint', o.random_specs[4].kind)
  end)

  it('says what is wrong with a bad command line', function()
    assert.matches('%-%-grid needs NAME=V1,V2', cli_error{'s.lua', '--grid', '--epochs', '1'})
    assert.matches("empty value", cli_error{'s.lua', '--grid', 'lr=0.1,,0.3'})
    assert.matches("%-%-random expects a count, got 'many'", cli_error{'s.lua', '--random', 'many', 'lr=0:1'})
    assert.matches("unknown distribution 'gauss'", cli_error{'s.lua', '--random', '3', 'lr=gauss:0:1'})
    assert.matches('needs positive bounds', cli_error{'s.lua', '--random', '3', 'lr=log:0:1'})
    assert.matches('must be below', cli_error{'s.lua', '--random', '3', 'lr=lin:1:0'})
    assert.matches('%-%-jobs expects a count', cli_error{'s.lua', '--jobs', '0'})
    assert.matches("unexpected argument 'other.lua'", cli_error{'s.lua', 'other.lua'})
  end)

  it('plans every combination, times the seeds, in a stable order', function()
    local o = sweep.parse_cli{'s.lua', '--grid', 'lr=0.1,0.3', 'bs=64,128,256', '--seeds', '2'}
    local runs, names = sweep.plan(o, nil, 'D')
    assert.same({'lr', 'bs'}, names)
    assert.equal(12, #runs)
    assert.equal('001-lr=0.1-bs=64-seed=1', runs[1].name)
    assert.equal('D/001-lr=0.1-bs=64-seed=1', runs[1].dir)
    assert.equal('002-lr=0.1-bs=64-seed=2', runs[2].name)
    assert.equal('012-lr=0.3-bs=256-seed=2', runs[12].name)
    assert.same({lr = '0.3', bs = '256'}, runs[12].values)
    assert.equal(2, runs[12].seed)
    local seen = {}
    for _, r in ipairs(runs) do
      assert.is_nil(seen[r.name]); seen[r.name] = true
    end
  end)

  it('draws random configurations within range, reproducibly per sweep seed', function()
    local argv = {'s.lua', '--random', '200', 'lr=log:1e-4:1', 'bs=logint:16:512', 'opt=sgd,adam',
                  '--sweep-seed', '7'}
    local runs = sweep.plan(sweep.parse_cli(argv), nil, 'D')
    assert.equal(200, #runs)
    local below, opts = 0, {}
    for _, r in ipairs(runs) do
      local lr, bs = tonumber(r.values.lr), tonumber(r.values.bs)
      assert.is_true(lr >= 1e-4 * 0.999 and lr <= 1.001, r.values.lr)
      assert.is_true(math.type(math.tointeger(bs)) == 'integer' and bs >= 16 and bs <= 512, r.values.bs)
      if lr < 1e-2 then below = below + 1 end
      opts[r.values.opt] = true
    end
    -- log-uniform: half of the draws below 1e-2 (a uniform draw would put 1% there)
    assert.is_true(below > 60 and below < 140, 'draws below 1e-2: ' .. below)
    assert.is_true(opts.sgd and opts.adam)
    local again = sweep.plan(sweep.parse_cli(argv), nil, 'D')
    assert.equal(runs[17].values.lr, again[17].values.lr)
  end)

  it('builds the command of a run', function()
    local o = sweep.parse_cli{'s.lua', '--grid', 'lr=0.1', '--epochs', '2', '--seeds', '1'}
    local runs, names = sweep.plan(o, nil, 'out dir')
    assert.equal("'luacnn' 's.lua' '--epochs' '2' --lr '0.1' --seed 1 --run_dir 'out dir/001-lr=0.1-seed=1'",
                 sweep.command('luacnn', 's.lua', runs[1], names, o.passthrough))
  end)

  it('formats tables with numbers right-aligned', function()
    local t = sweep.format_table({'name', 'acc'}, {{'a', '0.5'}, {'long name', '0.75'}})
    assert.equal(' name        acc\n a           0.5\n long name  0.75', t)
  end)
end)

describe('luacnn sweep', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  it('runs a grid, records a failed run with its error, sorts by the metric and plots', function()
    local out, rc = H.luacnn(string.format(
      'sweep %s --grid lr=0.05,0.2,2 batch_size=32,64 --epochs 2 --dir %s', H.q(H.fake), H.q(tmp .. '/sw')))
    assert.equal(1, rc, out)   -- two runs failed: the sweep fails, after its table
    local rows = results(tmp .. '/sw')
    assert.equal(6, #rows)
    -- the four good runs first, best first; the fake's best is lr=0.2 batch_size=64
    for i = 1, 4 do assert.equal('ok', rows[i].status) end
    assert.equal(0.2, rows[1].lr)
    assert.equal(64, rows[1].batch_size)
    for i = 2, 4 do assert.is_true(rows[i - 1].test_acc >= rows[i].test_acc) end
    for i = 1, 4 do
      assert.is_true(rows[i].test_acc > 0.5 and rows[i].test_acc < 1)
      assert.equal(2, rows[i].epochs)
    end
    -- lr=2 fails on purpose in both runs, with the script's error message
    for i = 5, 6 do
      assert.equal('failed', rows[i].status)
      assert.equal(2, rows[i].lr)
      assert.matches('loss diverged to nan', rows[i].error)
      assert.matches('loss diverged', H.read(rows[i].dir .. '/log.txt'))
    end
    -- the printed table and the summary line
    assert.matches('lr%s+batch_size%s+train loss%s+train acc%s+test acc', out)
    assert.matches('2 of 6 runs failed', out)
    assert.matches('results: .*/sw/results%.csv', out)
    -- every run folder has the run record and the sweep's marker
    local ok_run = tmp .. '/sw/' .. rows[1].run
    for _, f in ipairs{'config.json', 'metrics.csv', 'summary.json', 'log.txt', 'exit.json'} do
      assert.is_true(H.exists(ok_run .. '/' .. f), f)
    end
    assert.equal('ok', run.read_json(ok_run .. '/exit.json').status)
    assert.equal('failed', run.read_json(rows[5].dir .. '/exit.json').status)
    if H.plot_available() then
      assert.matches('plot: ', out)
      assert.is_true(H.exists(tmp .. '/sw/test_acc_vs_lr.png'))
      assert.is_true(H.exists(tmp .. '/sw/test_acc_vs_batch_size.png'))
      assert.is_true(H.exists(ok_run .. '/curves.png'))
    end
  end)

  it('runs --jobs at once and repeats with --seeds', function()
    local out, rc = H.luacnn(string.format(
      'sweep %s --grid lr=0.1,0.3 --seeds 2 --jobs 2 --epochs 2 --sleep 0.3 --dir %s',
      H.q(H.fake), H.q(tmp .. '/sw')))
    assert.equal(0, rc, out)
    local rows = results(tmp .. '/sw')
    assert.equal(4, #rows)
    local seeds = {}
    for _, r in ipairs(rows) do
      assert.equal('ok', r.status)
      seeds[r.seed] = (seeds[r.seed] or 0) + 1
      local config = run.read_json(r.dir .. '/config.json')
      assert.equal(r.seed, config.settings.seed)        -- passed on as --seed
      assert.equal(0.3, config.settings.sleep)          -- and the extra options too
    end
    assert.same({2, 2}, {seeds[1], seeds[2]})
    -- two started before the first one ended
    local first_done = out:find('%[1/4%]')
    local _, starts = out:sub(1, first_done):gsub('start ', '')
    assert.equal(2, starts, out)
  end)

  it('random search with a log-spaced setting', function()
    local out, rc = H.luacnn(string.format(
      'sweep %s --random 4 lr=log:0.01:0.5 --epochs 1 --sweep-seed 3 --dir %s', H.q(H.fake), H.q(tmp .. '/sw')))
    assert.equal(0, rc, out)
    local rows = results(tmp .. '/sw')
    assert.equal(4, #rows)
    for _, r in ipairs(rows) do
      assert.equal('ok', r.status)
      assert.is_true(r.lr >= 0.01 * 0.999 and r.lr <= 0.5 * 1.001)
    end
    local plan = run.read_json(tmp .. '/sw/sweep.json')
    assert.equal(3, plan.sweep_seed)
    assert.equal(4, #plan.runs)
  end)

  it('checks setting names against the script before running anything', function()
    local out, rc = H.luacnn(string.format('sweep %s --grid lrr=0.1,0.2 --dir %s', H.q(H.fake), H.q(tmp .. '/sw')))
    assert.equal(2, rc, out)
    assert.matches("swept setting 'lrr' is not a setting of the script %(did you mean 'lr'%?%)", out)
    out, rc = H.luacnn(string.format('sweep %s --grid lr=0.1 --epoch 3 --dir %s', H.q(H.fake), H.q(tmp .. '/sw')))
    assert.equal(2, rc, out)
    assert.matches("option 'epoch' is not a setting of the script %(did you mean 'epochs'%?%)", out)
    out, rc = H.luacnn(string.format('sweep %s --grid epochs=1,two --dir %s', H.q(H.fake), H.q(tmp .. '/sw')))
    assert.equal(2, rc, out)
    assert.matches("epochs=two: the script's %-%-epochs expects an integer", out)
    out, rc = H.luacnn(string.format('sweep %s --grid lr=0.1 --lr 0.2 --dir %s', H.q(H.fake), H.q(tmp .. '/sw')))
    assert.equal(2, rc, out)
    assert.matches('lr is both swept and fixed', out)
    assert.is_false(H.exists(tmp .. '/sw'))
    out, rc = H.luacnn(string.format('sweep %s/missing.lua --grid lr=0.1', H.q(tmp)))
    assert.equal(2, rc, out)
    assert.matches("cannot find the script", out)
  end)

  it('--dry-run prints the commands and runs nothing', function()
    local out, rc = H.luacnn(string.format('sweep %s --grid lr=0.1,0.2 --dry-run --dir %s', H.q(H.fake), H.q(tmp .. '/sw')))
    assert.equal(0, rc, out)
    assert.matches('2 runs', out)
    assert.matches("%-%-lr '0%.2' %-%-run_dir", out)
    assert.is_false(H.exists(tmp .. '/sw'))
  end)

  it('resumes a killed sweep without rerunning finished runs', function()
    local dir, launches = tmp .. '/sw', tmp .. '/launches.log'
    local exe = H.exe()
    -- the sweep in its own process group, so that it and its runs can be killed together
    local cmd = string.format(
      'cd %s && FAKE_LAUNCH_LOG=%s LUACNN_EXE=%s setsid %s sweep %s --grid lr=0.1,0.2,0.3,0.4 --epochs 2 --sleep 0.3 --dir %s > %s 2>&1 & echo $!',
      H.q(H.root), H.q(launches), H.q(exe), H.q(exe), H.q(H.fake), H.q(dir), H.q(tmp .. '/first.log'))
    local p = io.popen(cmd)
    local pid = p:read('l')
    p:close()
    local function finished()
      local n = 0
      for _, name in ipairs(H.ls(dir)) do
        local e = run.read_json(dir .. '/' .. name .. '/exit.json')
        if e and e.status == 'ok' then n = n + 1 end
      end
      return n
    end
    local waited = 0
    while finished() < 2 and waited < 30 do H.sleep(0.1); waited = waited + 0.1 end
    assert(os.execute('kill -KILL -' .. pid))      -- dash's kill: no '--'
    H.sleep(0.3)
    local done_before = finished()
    assert.is_true(done_before >= 2 and done_before < 4, 'finished before the kill: ' .. done_before)
    local before = {}
    for _, name in ipairs(H.ls(dir)) do
      local e = run.read_json(dir .. '/' .. name .. '/exit.json')
      if e and e.status == 'ok' then before[dir .. '/' .. name] = H.read(dir .. '/' .. name .. '/summary.json') end
    end

    local out, rc = H.luacnn(string.format('sweep %s --resume --dir %s', H.q(H.fake), H.q(dir)), nil,
                             'FAKE_LAUNCH_LOG=' .. H.q(launches))
    assert.equal(0, rc, out)
    assert.matches(done_before .. ' already finished, skipped', out)
    local rows = results(dir)
    assert.equal(4, #rows)
    for _, r in ipairs(rows) do assert.equal('ok', r.status) end
    -- each finished run was launched once and left untouched; the others ran again
    local count = {}
    for line in (H.read(launches) or ''):gmatch('[^\n]+') do count[line] = (count[line] or 0) + 1 end
    for d, summary in pairs(before) do
      assert.equal(1, count[d], d)
      assert.equal(summary, H.read(d .. '/summary.json'))
    end
    for _, r in ipairs(rows) do assert.is_true((count[r.dir] or 0) >= 1, r.dir) end
    -- a second resume has nothing left to do
    out, rc = H.luacnn(string.format('sweep %s --resume --dir %s', H.q(H.fake), H.q(dir)))
    assert.equal(0, rc, out)
    assert.matches('4 already finished', out)
  end)

  it('stops on Ctrl-C with the finished runs recorded, and resumes the rest', function()
    local dir = tmp .. '/sw'
    local exe = H.exe()
    local cmd = string.format(
      'cd %s && LUACNN_EXE=%s setsid %s sweep %s --grid lr=0.1,0.2,0.3,0.4 --epochs 3 --sleep 0.3 --jobs 2 --dir %s > %s 2>&1 & echo $!',
      H.q(H.root), H.q(exe), H.q(exe), H.q(H.fake), H.q(dir), H.q(tmp .. '/first.log'))
    local p = io.popen(cmd)
    local pid = p:read('l')
    p:close()
    local waited = 0
    while not (H.read(tmp .. '/first.log') or ''):find('%[2/4%]') and waited < 30 do
      H.sleep(0.1); waited = waited + 0.1
    end
    assert(os.execute('kill -INT -' .. pid))      -- what Ctrl-C in a terminal does
    waited = 0
    while os.execute('kill -0 ' .. pid .. ' 2>/dev/null') and waited < 20 do
      H.sleep(0.1); waited = waited + 0.1
    end
    local log = H.read(tmp .. '/first.log')
    assert.matches('sweep interrupted: 2 of 4 runs finished', log)
    assert.matches('%-%-resume %-%-dir', log)
    local rows = results(dir)
    local by_status = {}
    for _, r in ipairs(rows) do by_status[r.status] = (by_status[r.status] or 0) + 1 end
    assert.equal(2, by_status.ok, log)
    -- the other two were cut short: 'interrupted' once they had written their summary
    assert.equal(2, (by_status.interrupted or 0) + (by_status.pending or 0), log)

    local out, rc = H.luacnn(string.format('sweep %s --resume --dir %s', H.q(H.fake), H.q(dir)))
    assert.equal(0, rc, out)
    assert.matches('2 already finished, skipped', out)
    for _, r in ipairs(results(dir)) do assert.equal('ok', r.status) end
  end)

  it('finds the latest sweep of the script to resume, and refuses to overwrite one', function()
    local out, rc = H.luacnn(string.format('sweep %s --grid lr=0.1 --epochs 1', H.q(H.fake)), tmp)
    assert.equal(0, rc, out)
    local dir = sweep_dir_of(out)
    assert.matches('^runs/sweep%-fake_train%-', dir)
    out, rc = H.luacnn(string.format('sweep %s --resume', H.q(H.fake)), tmp)
    assert.equal(0, rc, out)
    assert.matches('1 already finished', out)
    assert.equal(dir, sweep_dir_of(out))
    out, rc = H.luacnn(string.format('sweep %s --grid lr=0.3 --dir %s', H.q(H.fake), H.q(dir)), tmp)
    assert.equal(2, rc, out)
    assert.matches('already holds a sweep: add %-%-resume', out)
    out, rc = H.luacnn(string.format('sweep %s --resume --dir %s --grid lr=0.3', H.q(H.fake), H.q(dir)), tmp)
    assert.equal(2, rc, out)
    assert.matches('was planned with other settings', out)
  end)

  it('prints its usage for --help', function()
    local out, rc = H.luacnn('sweep --help')
    assert.equal(0, rc, out)
    assert.matches('%-%-grid NAME=V1,V2', out)
    assert.matches('%-%-resume', out)
  end)
end)

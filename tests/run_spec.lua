-- luacnn.run: run folders (config, metrics, curves, summary), atomic writes, Ctrl-C, JSON/CSV.
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')
local run = require 'luacnn.run'
local json = require 'luacnn.json'
local args = require 'luacnn.args'

local function no_temp_files(dir)
  for _, name in ipairs(H.ls(dir)) do
    assert.is_nil(name:find('%.tmp%-'), 'temporary file left behind: ' .. name)
  end
end

describe('luacnn.run', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  it('creates the run folder with config.json and a running summary', function()
    local s = args.parse({lr = 0.9, epochs = 10}, {'--lr', '0.5'}, {script = 'lenet'})
    local r = run.start{settings = s, root = tmp}
    assert.matches('^' .. tmp:gsub('%p', '%%%0') .. '/lenet%-%d%d%d%d%d%d%d%d%-%d%d%d%d%d%d$', r.dir)
    local config = assert(run.read_json(r:path('config.json')))
    assert.equal('lenet', config.script)
    assert.equal(0.5, config.settings.lr)
    assert.equal(10, config.settings.epochs)
    assert.same({'--lr', '0.5'}, {config.argv[1], config.argv[2]})
    assert.is_true(config.explicit.lr)
    local summary = assert(run.read_json(r:path('summary.json')))
    assert.equal('running', summary.status)
    assert.equal(run.SUMMARY_FORMAT, summary.format)
    -- a second run in the same second gets its own folder
    local r2 = run.start{settings = s, root = tmp}
    assert.are_not.equal(r.dir, r2.dir)
  end)

  it('uses --run_dir, and dir over both', function()
    local s = args.parse({lr = 0.9}, {'--run_dir', tmp .. '/mine'}, {script = 'x'})
    assert.equal(tmp .. '/mine', run.start{settings = s}.dir)
    assert.equal(tmp .. '/a/b', run.start{settings = s, dir = tmp .. '/a/b'}.dir)
    assert.is_true(H.exists(tmp .. '/a/b/config.json'))
  end)

  it("records the script's lc.args settings and --run_dir when none are passed (train_ch6)", function()
    local saved = args.current
    local s = args({lr = 0.9}, {argv = {'--lr', '0.3', '--run_dir', tmp .. '/cli'}, script = 'lenet'})
    local r = run.start{}
    local r2 = run.start{settings = {lr = 0.3, epochs = 2}}    -- settings of its own
    args.current = saved
    assert.equal(tmp .. '/cli', r.dir)
    assert.equal('lenet', r.script)
    assert.equal(0.3, run.read_json(r:path('config.json')).settings.lr)
    assert.equal(tmp .. '/cli', r2.dir)
    assert.equal(2, run.read_json(r2:path('config.json')).settings.epochs)
  end)

  it('logs epochs to metrics.csv in the standard column order, extras after', function()
    local r = run.start{dir = tmp .. '/r', script = 'lenet'}
    r:log_epoch{epoch = 1, train_loss = 2.3, train_acc = 0.1, test_acc = 0.12,
                examples_per_sec = 5000.5, seconds = 1.5}
    r:log_epoch{epoch = 2, train_loss = 0.9, train_acc = 0.6, test_acc = 0.65,
                examples_per_sec = 5100, seconds = 3.0, lr = 0.05}
    local text = H.read(r:path('metrics.csv'))
    local header = text:match('^[^\n]+')
    assert.equal('epoch,train_loss,train_acc,test_acc,examples_per_sec,seconds,lr', header)
    local rows, cols = run.read_csv(r:path('metrics.csv'))
    assert.equal(7, #cols)
    assert.equal(2, #rows)
    assert.equal(1, rows[1].epoch)
    assert.equal(2.3, rows[1].train_loss)
    assert.equal(5000.5, rows[1].examples_per_sec)
    assert.is_nil(rows[1].lr)                  -- the column came later: empty
    assert.equal(0.05, rows[2].lr)
    no_temp_files(r.dir)
  end)

  it('fills in epoch numbers and elapsed seconds when not given', function()
    local r = run.start{dir = tmp .. '/r'}
    local row = r:log_epoch{train_loss = 1}
    assert.equal(1, row.epoch)
    assert.is_true(row.seconds >= 0 and row.seconds < 60)
    assert.equal(2, r:log_epoch{train_loss = 0.5}.epoch)
  end)

  it('rejects bad rows with a clear message', function()
    local r = run.start{dir = tmp .. '/r'}
    assert.has_error(function() r:log_epoch(3) end,
                     'run:log_epoch: expected a table {epoch =, train_loss =, ...}, got number')
    local ok, err = pcall(r.log_epoch, r, {epoch = 1, train_loss = {}})
    assert.is_false(ok)
    assert.matches('train_loss must be a number or a string, got table', err)
  end)

  it('writes the summary that sweep and compare read', function()
    local r = run.start{dir = tmp .. '/r', script = 'lenet'}
    local accs = {0.5, 0.8, 0.75}
    for e, a in ipairs(accs) do
      r:log_epoch{epoch = e, train_loss = 1 / e, train_acc = a + 0.01, test_acc = a,
                  examples_per_sec = 1000, seconds = e}
    end
    local mid = run.read_json(r:path('summary.json'))
    assert.equal('running', mid.status)
    assert.equal(3, mid.epochs)               -- updated after every epoch
    r:finish()
    local s = assert(run.read_json(r:path('summary.json')))
    assert.equal('finished', s.status)
    assert.equal('lenet', s.script)
    assert.equal('test_acc', s.metric)
    assert.is_true(s.higher_is_better)
    assert.equal(0.75, s.value)               -- the last epoch's
    assert.same({epoch = 2, value = 0.8}, s.best)
    assert.equal(3, s.epochs)
    assert.equal(0.76, s.final.train_acc)
    assert.is_string(s.started)
    assert.is_string(s.finished)
    no_temp_files(r.dir)
  end)

  it('takes valid_acc as the metric when there is no test_acc, and extra final metrics', function()
    local r = run.start{dir = tmp .. '/r'}
    r:log_epoch{epoch = 1, train_loss = 1, valid_acc = 0.4}
    r:finish{metrics = {test_acc_final = 0.41}}
    local s = run.read_json(r:path('summary.json'))
    assert.equal('valid_acc', s.metric)
    assert.equal(0.4, s.value)
    assert.equal(0.41, s.final.test_acc_final)
  end)

  it('treats a loss metric as lower-is-better', function()
    local r = run.start{dir = tmp .. '/r', metric = 'train_loss'}
    r:log_epoch{epoch = 1, train_loss = 0.5}
    r:log_epoch{epoch = 2, train_loss = 0.3}
    r:log_epoch{epoch = 3, train_loss = 0.4}
    r:finish()
    local s = run.read_json(r:path('summary.json'))
    assert.is_false(s.higher_is_better)
    assert.same({epoch = 2, value = 0.3}, s.best)
  end)

  it('draws the training curves as a PNG', function()
    if not H.plot_available() then
      assert.is_false(H.inside_luacnn(), 'the luacnn executable has no chart binding (_chart)')
      return
    end
    local r = run.start{dir = tmp .. '/r', script = 'lenet'}
    for e = 1, 5 do
      r:log_epoch{epoch = e, train_loss = 2 / e, train_acc = 0.5 + e / 20, test_acc = 0.45 + e / 20}
    end
    local path = assert(r:plot_curves())
    assert.equal(r:path('curves.png'), path)
    local plot = require 'luacnn.plot'
    local w, h = plot.png_size(path)
    assert.equal(800, w)
    assert.equal(500, h)
    no_temp_files(r.dir)
  end)

  it('records a failure with its message and traceback, and re-raises it', function()
    local r = run.start{dir = tmp .. '/r'}
    local ok, err = pcall(r.guard, r, function(rr)
      rr:log_epoch{epoch = 1, train_loss = 1}
      error('shape mismatch in net[3]')
    end)
    assert.is_false(ok)
    assert.matches('shape mismatch in net%[3%]', err)
    local s = run.read_json(r:path('summary.json'))
    assert.equal('failed', s.status)
    assert.matches('shape mismatch', s.error)
    assert.matches('stack traceback', s.traceback)
    assert.equal(1, s.epochs)
  end)

  it('on an interrupt, saves through on_interrupt, marks the run and re-raises', function()
    local r = run.start{dir = tmp .. '/r', quiet = true}
    local saved = false
    local ok, err = pcall(r.guard, r, function(rr)
      rr:log_epoch{epoch = 1, train_loss = 1, test_acc = 0.3}
      error('interrupted!')
    end, {on_interrupt = function(rr) saved = true; rr:write('last.bin', 'weights') end})
    assert.is_false(ok)
    assert.is_true(run.is_interrupt(err))
    assert.is_true(saved)
    assert.equal('weights', H.read(r:path('last.bin')))
    local s = run.read_json(r:path('summary.json'))
    assert.equal('interrupted', s.status)
    assert.equal(0.3, s.value)
  end)

  it('returns what the guarded function returns', function()
    local r = run.start{dir = tmp .. '/r'}
    local a, b = r:guard(function() return 1, 'two' end)
    assert.equal(1, a)
    assert.equal('two', b)
  end)

  it('stops cleanly on Ctrl-C: complete files, status interrupted', function()
    local dir = tmp .. '/ctrlc'
    -- start the fake training in the background, let it log an epoch or two, then SIGINT
    local exe = H.exe()
    local cmd = string.format('cd %s && LUACNN_EXE=%s %s %s --sleep 0.4 --epochs 50 --run_dir %s > %s 2>&1 & echo $!',
                              H.q(H.root), H.q(exe), H.q(exe), H.q(H.fake), H.q(dir), H.q(tmp .. '/log'))
    local p = io.popen(cmd)
    local pid = p:read('l')
    p:close()
    local waited = 0
    while waited < 20 do
      local rows = run.read_csv(dir .. '/metrics.csv')
      if rows and #rows >= 2 then break end
      H.sleep(0.2)
      waited = waited + 0.2
    end
    os.execute('kill -INT ' .. pid)
    waited = 0
    while os.execute('kill -0 ' .. pid .. ' 2>/dev/null') and waited < 20 do
      H.sleep(0.1)
      waited = waited + 0.1
    end
    local log = H.read(tmp .. '/log') or ''
    assert.matches('interrupted', log)
    local s = assert(run.read_json(dir .. '/summary.json'))
    assert.equal('interrupted', s.status)
    local rows = assert(run.read_csv(dir .. '/metrics.csv'))
    assert.is_true(#rows >= 2 and #rows < 50, 'rows: ' .. #rows)
    assert.equal(#rows, s.epochs)
    for i, row in ipairs(rows) do
      assert.equal(i, row.epoch)
      assert.is_number(row.test_acc)
    end
    no_temp_files(dir)
  end)
end)

describe('run helpers', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  it('atomic_write replaces a file whole and leaves no temporary file', function()
    local path = tmp .. '/f.txt'
    run.atomic_write(path, 'first')
    run.atomic_write(path, 'second, longer')
    assert.equal('second, longer', H.read(path))
    assert.same({'f.txt'}, H.ls(tmp))
  end)

  it('atomic_write names the path when it cannot write', function()
    local ok, err = pcall(run.atomic_write, tmp .. '/missing/f.txt', 'x')
    assert.is_false(ok)
    assert.matches("cannot write '.*/missing/f%.txt'", err)
  end)

  it('CSV survives commas, quotes, newlines and empty fields', function()
    local rows = {{a = 1, b = 'x, "y"', c = 'two\nlines'}, {a = 2.5, b = '', c = nil}}
    run.write_csv(tmp .. '/t.csv', {'a', 'b', 'c'}, rows)
    local back, cols = run.read_csv(tmp .. '/t.csv')
    assert.same({'a', 'b', 'c'}, cols)
    assert.equal(1, back[1].a)
    assert.equal('x, "y"', back[1].b)
    assert.equal('two\nlines', back[1].c)
    assert.equal(2.5, back[2].a)
    assert.is_nil(back[2].b)
    assert.is_nil(back[2].c)
  end)

  it('load reads a run folder back, and names what is wrong with others', function()
    local r = run.start{dir = tmp .. '/r', script = 's', settings = {lr = 0.1}}
    r:log_epoch{epoch = 1, test_acc = 0.5}
    r:finish()
    local l = run.load(tmp .. '/r/')
    assert.equal(0.1, l.config.settings.lr)
    assert.equal('finished', l.summary.status)
    assert.equal(0.5, l.rows[1].test_acc)
    local ok, err = pcall(run.load, tmp)
    assert.is_false(ok)
    assert.matches('is not a run folder', err)
    ok, err = pcall(run.load, tmp .. '/nope')
    assert.is_false(ok)
    assert.matches('is not a folder', err)
  end)
end)

describe('luacnn.json', function()
  it('round-trips values, keeping integers integers', function()
    local v = {a = 1, b = 0.1, c = {1, 2, 3}, d = 'q"\n\\', e = true, f = {x = {y = -2.5e-7}}}
    local back = json.decode(json.encode(v))
    assert.same(v, back)
    assert.equal('integer', math.type(back.a))
    assert.equal('float', math.type(json.decode('2.0')))
    assert.same(v, json.decode(json.encode(v, {indent = true})))
  end)

  it('writes NaN and infinities as null and sorts keys', function()
    assert.equal('{"a":null,"b":null,"c":1}', json.encode({c = 1, a = 0 / 0, b = math.huge}))
    assert.equal('[]', json.encode(json.array{}))
    assert.equal('{}', json.encode({}))
  end)

  it('decodes unicode escapes and reports errors with a position', function()
    assert.equal('é😀', json.decode('"\\u00e9\\ud83d\\ude00"'))
    local ok, err = pcall(json.decode, '{"a": 1,\n "b": }')
    assert.is_false(ok)
    assert.matches('line 2, column 7', err)
    assert.has_error(function() json.decode('[1, 2') end)
    assert.has_error(function() json.decode('{} x') end)
    assert.has_error(function() json.encode({f = print}) end)
  end)

  it('refuses tables that contain themselves', function()
    local t = {}
    t.self = t
    assert.has_error(function() json.encode(t) end, 'json: cannot encode a table that contains itself')
  end)
end)

-- `luacnn compare`: settings that differ, final metrics side by side, overlaid curves.
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')
local compare = require 'luacnn.cli.compare'
local run = require 'luacnn.run'

-- A finished fake run in dir with the given extra options.
local function fake_run(dir, opts)
  local out, rc = H.luacnn(string.format('%s %s --run_dir %s', H.q(H.fake), opts, H.q(dir)))
  assert.equal(0, rc, out)
  return run.load(dir)
end

describe('compare helpers', function()
  it('labels runs by folder name, longer where names repeat', function()
    assert.same({'a', 'b'}, compare.labels{'runs/a', 'runs/b'})
    assert.same({'x/run', 'y/run'}, compare.labels{'runs/x/run', 'runs/y/run'})
  end)

  it('splits settings into those that differ and those that do not', function()
    local runs = {
      {config = {settings = {lr = 0.1, epochs = 3, device = 'cpu', run_dir = 'a'}}},
      {config = {settings = {lr = 0.3, epochs = 3, device = 'cpu', run_dir = 'b'}}},
      {config = {settings = {lr = 0.1, epochs = 3, device = 'cuda', run_dir = 'c'}}},
    }
    local differ, same = compare.diff_settings(runs)
    assert.same({'device', 'lr'}, differ)
    assert.same({'epochs=3'}, same)
  end)

  it('reads its options', function()
    local o = compare.parse_cli{'a', '--out', 'x.png', 'b', '--metric=valid_acc'}
    assert.same({'a', 'b'}, o.dirs)
    assert.equal('x.png', o.out)
    assert.equal('valid_acc', o.metric)
    local ok, err = pcall(compare.parse_cli, {'a', '--outt', 'x'})
    assert.is_false(ok)
    assert.matches('unknown option %-%-outt', err.compare_error)
  end)
end)

describe('luacnn compare', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  it('prints the differing settings and final metrics of each run, and overlays the curves', function()
    local a = fake_run(tmp .. '/run-a', '--lr 0.2 --epochs 3')
    local b = fake_run(tmp .. '/run-b', '--lr 0.05 --epochs 3 --optimizer adam')
    local out, rc = H.luacnn(string.format('compare %s %s --out %s', H.q(a.dir), H.q(b.dir), H.q(tmp .. '/cmp.png')))
    assert.equal(0, rc, out)
    local lines = {}
    for line in out:gmatch('[^\n]+') do lines[#lines + 1] = line end
    -- header: run, the settings that differ, then the metrics
    assert.matches('^%s*run%s+lr%s+optimizer%s+epochs done%s+train loss%s+train acc%s+test acc%s+best %(epoch%)', lines[1])
    assert.is_nil(lines[1]:find('batch_size'))
    local function row_of(label)
      for _, l in ipairs(lines) do if l:match('^%s*' .. label:gsub('%p', '%%%0') .. '%s') then return l end end
    end
    local ra, rb = row_of('run-a'), row_of('run-b')
    assert.is_not_nil(ra, out)
    assert.is_not_nil(rb, out)
    assert.matches(string.format('%%s%.4f%%s', a.summary.final.test_acc):gsub('%.', '%%.'), ra)
    assert.matches(string.format('%%s%.4f%%s', b.summary.final.test_acc):gsub('%.', '%%.'), rb)
    assert.matches('0%.2%s+sgd', ra)
    assert.matches('0%.05%s+adam', rb)
    assert.matches('finished', ra)
    assert.matches('same in all: .*batch_size=64.*epochs=3', out)
    if H.plot_available() then
      assert.matches('curves: .*cmp%.png', out)
      local w, h = require('luacnn.plot').png_size(tmp .. '/cmp.png')
      assert.equal(1600, w)
      assert.equal(520, h)
    end
  end)

  it('takes a sweep folder as all of its runs, failed ones included', function()
    local out, rc = H.luacnn(string.format('sweep %s --grid lr=0.1,5 --epochs 2 --dir %s', H.q(H.fake), H.q(tmp .. '/sw')))
    assert.equal(1, rc, out)   -- lr=5 fails on purpose
    out, rc = H.luacnn(string.format('compare %s --out %s', H.q(tmp .. '/sw'), H.q(tmp .. '/c.png')))
    assert.equal(0, rc, out)
    assert.matches('001%-lr=0%.1%s', out)
    assert.matches('002%-lr=5%s.*failed: .*loss diverged', out)
  end)

  it('names a folder that is not a run', function()
    local out, rc = H.luacnn('compare ' .. H.q(tmp))
    assert.equal(2, rc, out)
    assert.matches('is not a run folder', out)
    out, rc = H.luacnn('compare ' .. H.q(tmp .. '/missing'))
    assert.equal(2, rc, out)
    assert.matches('is not a folder', out)
    out, rc = H.luacnn('compare')
    assert.equal(2, rc, out)
    assert.matches('usage: luacnn compare', out)
  end)
end)

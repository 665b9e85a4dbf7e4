-- scripts/resnet_leaves.lua end to end on the CPU with the real data (skipped loudly without
-- it): a smoke run (--limit 512 --epochs 1 --size 64) that trains, keeps best and last
-- checkpoints and writes submission.csv for the 8,800 test images; a run stopped after epoch
-- 1 of 2 and resumed gives the metrics of the run that was not stopped; predict mode on a few
-- labelled images ends with `accuracy 0.xxxx (N images)`. Also the recipes' settings.
local lc = require 'luacnn'
local files = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'helpers/files.lua')
local run = require 'luacnn.run'

local DATA = os.getenv('LUACNN_DATA')
local ROOT = DATA and (DATA .. '/classify-leaves')
local have_data = ROOT ~= nil and run.exists(ROOT .. '/train.csv') and run.exists(ROOT .. '/test.csv')
local skip_reason = DATA == nil and 'LUACNN_DATA is not set'
                    or ('the classify-leaves files are not in ' .. tostring(ROOT))
local have_pipeline = pcall(function() return lc.transforms.Compose end) and lc.data.ImageLoader ~= nil

local host = package.loaded['luacnn.host']
local EXE = os.getenv('LUACNN_EXE') or (host and host.executable) or (arg and arg[-1]) or 'build/luacnn'
local SRC = (debug.getinfo(1, 'S').source:match('^@(.*/)tests/') or './')
local SCRIPT = SRC .. 'scripts/resnet_leaves.lua'

local tmpdir
local function tmp(name) return tmpdir .. '/' .. name end

-- Runs the script with words; returns its output (stdout + stderr), exit status, seconds.
local function script(words)
  local q = {}
  for i, w in ipairs(words) do q[i] = run.shell_quote(w) end
  local log = tmp('out-' .. math.random(1, 1 << 30) .. '.txt')
  local t0 = run.now()
  local ok, _, code = os.execute(string.format('cd %s && LUACNN_PROGRESS=0 %s %s %s > %s 2>&1',
                                               run.shell_quote(SRC), run.shell_quote(EXE),
                                               run.shell_quote(SCRIPT), table.concat(q, ' '),
                                               run.shell_quote(log)))
  local out = run.read_file(log) or ''
  return out, ok and 0 or code, run.now() - t0
end

local function data_it(name, fn)
  it(name, function()
    if not have_data then
      io.stderr:write('\n*** SKIPPED: "', name, '" because ', skip_reason, ' ***\n')
      print(string.format('SKIPPED: "%s" because %s', name, skip_reason))
      pending('needs the classify-leaves data: ' .. skip_reason)
    end
    if not have_pipeline then
      print(string.format('SKIPPED: "%s" because this build has no lc.transforms / ImageLoader', name))
      pending('needs lc.transforms and lc.data.ImageLoader')
    end
    fn()
  end)
end

local function lines(path)
  local out = {}
  for l in io.lines(path) do out[#out + 1] = l end
  return out
end

describe('scripts/resnet_leaves.lua', function()
  setup(function() tmpdir = files.tempdir() end)
  teardown(function() files.rmtree(tmpdir) end)

  it('recipes fill the settings not given on the command line', function()
    local leaves = require 'luacnn.leaves'
    local s = leaves.settings{'--recipe', 'cpu', '--lr', '0.05'}
    assert.are.equal(0.05, s.lr)
    assert.are.equal(64, s.size)
    assert.are.equal(128, s.batch_size)
    assert.is_true(s.cache)
    assert.are.equal('cosine', s.schedule)
    local r = leaves.settings{}
    assert.are.same({'resnet18', 224, 64, 0.02, 15, 0.2}, {r.arch, r.size, r.batch_size, r.lr, r.epochs,
                                                          r.valid_ratio})
    assert.are.equal(0, r.momentum)
    local st = leaves.settings{'--recipe', 'strong', '--no-tta'}
    assert.is_false(st.tta)
    assert.is_true(st.mixup > 0 and st.cutmix > 0 and st.label_smoothing > 0 and st.nesterov)
  end)

  local smoke
  data_it('smoke run: trains, keeps best and last checkpoints, writes an 8,800-row submission', function()
    local dir = tmp('smoke')
    local out, code, secs = script{'--limit', '512', '--epochs', '1', '--size', '64', '--device', 'cpu',
                                   '--data_root', ROOT, '--run_dir', dir, '--out', tmp('sub.csv')}
    print(string.format('smoke run: %.1f s', secs))
    assert.are.equal(0, code, out)
    assert.matches('epoch 1/1  loss [%d.]+  train acc [%d.]+  valid acc [%d.]+', out)
    assert.matches('images/sec', out)
    for _, f in ipairs{'best.safetensors', 'last.safetensors', 'metrics.csv', 'summary.json',
                       'config.json', 'submission.csv'} do
      assert.is_true(run.exists(dir .. '/' .. f), f .. ' missing\n' .. out)
    end
    local summary = run.read_json(dir .. '/summary.json')
    assert.are.equal('finished', summary.status)
    local meta = require('luacnn.trainer').read_meta(dir .. '/best.safetensors').meta
    assert.are.equal(64, meta.size)
    assert.are.equal('resnet18', meta.arch)
    local classes = {}
    for _, c in ipairs(meta.classes) do classes[c] = true end
    local sub = lines(dir .. '/submission.csv')
    local test = lines(ROOT .. '/test.csv')
    assert.are.equal('image,label', sub[1])
    assert.are.equal(8801, #sub)
    for i = 2, #sub do
      local image, label = sub[i]:match('^([^,]+),([^,]+)$')
      assert.are.equal(test[i], image)
      assert.is_true(classes[label], 'unknown label ' .. tostring(label) .. ' on line ' .. i)
    end
    assert.are.same(sub, lines(tmp('sub.csv')))
    smoke = dir
  end)

  data_it('predict mode scores a labelled CSV and ends with the accuracy line', function()
    assert.is_not_nil(smoke, 'needs the smoke run')
    local train = lines(ROOT .. '/train.csv')
    local list = {'image,label'}
    for i = 2, 25 do list[#list + 1] = train[i] end
    run.atomic_write(tmp('few.csv'), table.concat(list, '\n') .. '\n')
    local out, code = script{'--predict', tmp('few.csv'), '--data_root', ROOT, '--checkpoint',
                             smoke .. '/best.safetensors', '--out', tmp('preds.csv'), '--device', 'cpu'}
    assert.are.equal(0, code, out)
    local last = out:gsub('%s+$', ''):match('([^\n]*)$')
    local acc, n = last:match('^accuracy (%d%.%d%d%d%d) %((%d+) images%)$')
    assert.is_not_nil(acc, 'last line: ' .. last)
    assert.are.equal('24', n)
    local preds = lines(tmp('preds.csv'))
    assert.are.equal('image,label', preds[1])
    assert.are.equal(25, #preds)
    local correct = 0
    for i = 2, 25 do
      local image, label = preds[i]:match('^([^,]+),(.+)$')
      local timage, tlabel = list[i]:match('^([^,]+),(.+)$')
      assert.are.equal(timage, image)
      if label == tlabel then correct = correct + 1 end
    end
    assert.are.equal(string.format('%.4f', correct / 24), acc)
    -- a CSV without labels: predictions only, no accuracy line
    run.atomic_write(tmp('nolabel.csv'), 'image\nimages/0.jpg\nimages/1.jpg\n')
    out, code = script{'--predict', tmp('nolabel.csv'), '--data_root', ROOT, '--checkpoint',
                       smoke .. '/best.safetensors', '--out', tmp('p2.csv')}
    assert.are.equal(0, code, out)
    assert.is_nil(out:find('accuracy'))
    assert.are.equal(3, #lines(tmp('p2.csv')))
  end)

  data_it('a run stopped after epoch 1 of 2 and resumed has the metrics of an uninterrupted run', function()
    local common = {'--limit', '256', '--epochs', '2', '--size', '32', '--batch_size', '32', '--device',
                    'cpu', '--data_root', ROOT, '--no-submission', '--recipe', 'cpu', '--no-cache',
                    '--time_budget', '0'}
    local function with(extra)
      local w = {}
      for _, x in ipairs(common) do w[#w + 1] = x end
      for _, x in ipairs(extra) do w[#w + 1] = x end
      return w
    end
    local out, code = script(with{'--run_dir', tmp('full')})
    assert.are.equal(0, code, out)
    out, code = script(with{'--run_dir', tmp('cut'), '--stop_after_epoch', '1'})
    assert.are_not.equal(0, code)
    assert.matches('continue with %-%-resume', out)
    assert.are.equal('interrupted', run.read_json(tmp('cut/summary.json')).status)
    -- resuming needs only the folder: the settings come from the checkpoint
    out, code = script{'--resume', tmp('cut'), '--data_root', ROOT}
    assert.are.equal(0, code, out)
    assert.matches('resuming from', out)
    local a, b = run.read_csv(tmp('full/metrics.csv')), run.read_csv(tmp('cut/metrics.csv'))
    assert.are.equal(2, #a)
    assert.are.equal(2, #b)
    for e = 1, 2 do
      for _, k in ipairs{'train_loss', 'train_acc', 'valid_acc', 'lr'} do
        local x, y = a[e][k], b[e][k]
        assert.is_true(math.abs(x - y) <= 1e-5 * math.max(1, math.abs(x)),
                       string.format('epoch %d %s: %s uninterrupted, %s resumed', e, k, x, y))
      end
    end
  end)
end)

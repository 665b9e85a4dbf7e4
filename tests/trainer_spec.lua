-- luacnn.trainer on synthetic data: it learns, keeps the best and the last checkpoint with
-- their metadata, and a run stopped after an epoch and resumed gives the same per-epoch
-- metrics as the run that was never stopped (model, optimizer, schedule and lc's generator
-- all restored: the fake loader shuffles and the batch transform draws from lc's generator).
local lc = require 'luacnn'
local files = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'helpers/files.lua')
local trainer = require 'luacnn.trainer'

local tmpdir
local function tmp(name) return tmpdir .. '/' .. name end

local fit = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/trainer_fit.lua')

describe('trainer.fit', function()
  setup(function() tmpdir = files.tempdir() end)
  teardown(function() files.rmtree(tmpdir) end)

  local full
  it('learns, logs every epoch and keeps best and last checkpoints with their metadata', function()
    local ok, res = fit{epochs = 6, dir = tmp('full')}
    assert.is_true(ok, tostring(res))
    full = res
    assert.are.equal(6, #res.history)
    assert.is_true(res.history[6].train_loss < res.history[1].train_loss)
    assert.is_true(res.best_acc >= 0.8, 'best valid acc ' .. res.best_acc)
    local meta = trainer.read_meta(tmp('full/best.safetensors'))
    assert.are.equal(res.best_epoch, meta.epoch)
    assert.are.same({'neg', 'pos'}, meta.meta.classes)
    assert.are.equal(6, trainer.read_meta(tmp('full/last.safetensors')).epoch)
    local rows = lc.run.read_csv(tmp('full/metrics.csv'))
    assert.are.equal(6, #rows)
    assert.is_true(math.abs(rows[6].valid_acc - res.history[6].valid_acc) < 1e-6)
    local summary = lc.run.read_json(tmp('full/summary.json'))
    assert.are.equal('finished', summary.status)
  end)

  it('resumes a stopped run with the same losses and accuracies as the uninterrupted one', function()
    assert.is_not_nil(full, 'needs the previous test')
    local ok, err = fit{epochs = 6, dir = tmp('cut'), stop_after_epoch = 2}
    assert.is_false(ok)
    assert.matches('interrupted!', err)
    assert.are.equal('interrupted', lc.run.read_json(tmp('cut/summary.json')).status)
    -- another seed: everything that matters must come from the checkpoint
    local ok2, res = fit{epochs = 6, dir = tmp('cut'), resume = tmp('cut'), seed = 99}
    assert.is_true(ok2, tostring(res))
    assert.are.equal(6, #res.history)
    for e = 1, 6 do
      for _, k in ipairs{'train_loss', 'train_acc', 'valid_acc', 'valid_loss', 'lr'} do
        local a, b = full.history[e][k], res.history[e][k]
        -- bit for bit: the checkpoint restores everything the next epoch depends on
        assert.is_true(a == b,
                       string.format('epoch %d %s: %.17g uninterrupted, %.17g resumed', e, k, a, b))
      end
    end
    assert.are.equal(6, #lc.run.read_csv(tmp('cut/metrics.csv')))
  end)

  it('a time budget lowers the number of epochs after the first and shortens the schedule', function()
    local told
    local ok, res = fit{epochs = 6, dir = tmp('budget'), time_budget = 1e-6,
                        on_epochs = function(n) told = n end}
    assert.is_true(ok, tostring(res))
    assert.are.equal(1, #res.history)
    assert.are.equal(1, told)
    assert.are.equal(1, trainer.read_meta(tmp('budget/last.safetensors')).epochs)
    -- a budget larger than the run changes nothing
    local ok2, res2 = fit{epochs = 2, dir = tmp('budget2'), time_budget = 3600}
    assert.is_true(ok2, tostring(res2))
    assert.are.equal(2, #res2.history)
  end)

  it('warmup_cosine rises linearly, then falls to the floor at total_steps', function()
    local p = lc.zeros({1}, {requires_grad = true})
    local opt = lc.optim.SGD({p}, {lr = 1})
    local s = trainer.warmup_cosine(opt, {total_steps = 10, warmup_steps = 2, warmup_start = 0})
    local lrs = {opt.param_groups[1].lr}
    for _ = 1, 10 do s:step(); lrs[#lrs + 1] = opt.param_groups[1].lr end
    assert.are.equal(0, lrs[1])
    assert.is_true(math.abs(lrs[2] - 0.5) < 1e-12)
    assert.is_true(math.abs(lrs[3] - 1) < 1e-12)
    assert.is_true(math.abs(lrs[7] - 0.5) < 1e-12)
    assert.is_true(lrs[11] < 1e-12)
  end)
end)

-- Regressions for what the ASan + UBSan tree (build-asan) and the fuzzers found. Each case
-- is harmless-looking in the plain build; under the sanitizers the old code stopped the run.
local lc = require 'luacnn'
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')

describe('sanitizer regressions', function()
  it('0-dim tensors and their views copy no sizes from a NULL list', function()
    local s = lc.tensor(2.5, { dtype = 'float64' })
    assert.are.equal(0, s:dim())
    assert.are.equal(2.5, s:item())
    assert.are.equal(2.5, s:view({}):item())
    assert.are.equal(2.5, (s + 1):item() - 1)
  end)

  it('eye(0, maxinteger) is an empty matrix, not a signed overflow in its diagonal stride', function()
    local e = lc.eye(0, math.maxinteger)
    assert.are.same({ 0, math.maxinteger }, e:size())
    assert.are.equal(0, e:numel())
  end)

  it('randint over the whole int64 range is refused by name instead of overflowing high - low', function()
    check.raises(function() lc.randint(math.mininteger, math.maxinteger, 3) end, 'randint', '2^53')
    local r = lc.randint(-(1 << 52), 1 << 52, 100)
    assert.is_true(r:min():item() >= -(1 << 52) and r:max():item() < (1 << 52))
  end)
end)

-- scripts/corr2d.lua prints what the chapter prints and learns the edge kernel back.
local function run_script(args)
  local exe = os.getenv('LUACNN_EXE') or 'build/luacnn'
  local p = assert(io.popen(exe .. ' scripts/corr2d.lua ' .. (args or '') .. ' 2>&1'))
  local out = p:read('a')
  local ok = p:close()
  return out, ok
end

describe('scripts/corr2d.lua', function()
  local out, ok = run_script('--steps 20')

  it('exits cleanly', function()
    assert.is_true(ok, out)
  end)

  it('computes the 3x3 example', function()
    assert.truthy(out:find('%[%[19%., 25%.%],%s+%[37%., 43%.%]%]'), out)
  end)

  it('detects the edges of the black band', function()
    local row = '%[ 0%.,  1%.,  0%.,  0%.,  0%., %-1%.,  0%.%]'
    local _, rows = out:gsub(row, '')
    assert.are.equal(6, rows, out)
  end)

  it('learns the kernel with nn.Conv2d: loss falls below 1e-3 within 20 steps', function()
    local losses = {}
    local section = out:match('nn%.Conv2d.-learned kernel') or ''
    for step, loss in section:gmatch('epoch (%d+), loss ([%d%.]+)') do losses[tonumber(step)] = tonumber(loss) end
    assert.truthy(losses[20], out)
    assert.is_true(losses[20] < 1e-3, 'final loss ' .. tostring(losses[20]))
    assert.is_true(losses[2] > losses[20])
  end)

  it('learns the kernel through the Lua-loop corr2d with autograd', function()
    local section = out:match('Lua%-loop corr2d(.*)') or ''
    local last
    for _, loss in section:gmatch('epoch (%d+), loss ([%d%.]+)') do last = tonumber(loss) end
    assert.truthy(last, out)
    assert.is_true(last < 1e-2, 'final loss ' .. tostring(last))
    local a, b = section:match('tensor%(%[%[%s*([%-%d%.]+),%s*([%-%d%.]+)%]%]%)')
    assert.truthy(a, section)
    assert.is_true(math.abs(tonumber(a) - 1) < 0.05 and math.abs(tonumber(b) + 1) < 0.05, section)
  end)
end)

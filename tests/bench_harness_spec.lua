-- The benchmark harness of the chapter networks (bench/cpu_nets.lua, which bench/gpu_nets.sh
-- drives on a GPU) runs every network in both modes at tiny sizes on the CPU, writes one JSON
-- object per network, and bench/nets_table.py merges them: a GPU session finds it working.
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')
local json = require 'luacnn.json'

local NETS = {'lenet', 'alexnet', 'vgg', 'nin', 'googlenet', 'lenet_bn', 'resnet18', 'resnet18_leaves'}

describe('the networks benchmark harness', function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  it('runs every network in fp32 and bf16 and writes a JSON object for each', function()
    local raw = tmp .. '/raw.jsonl'
    for _, mode in ipairs{'fp32', 'bf16'} do
      local out, rc = H.luacnn(string.format(
        '%s --batch_size 2 --steps 1 --warmup 1 --min_time 0 --mode %s --json %s',
        H.q(H.root .. '/bench/cpu_nets.lua'), mode, H.q(raw)), tmp, 'OMP_NUM_THREADS=2')
      assert.equal(0, rc, out)
    end
    local seen = {}
    for line in io.lines(raw) do
      local r = json.decode(line)
      assert.equal('luacnn', r.library)
      assert.equal(2, r.batch)
      assert.is_true(r.examples_per_sec > 0, line)
      seen[r.net .. '/' .. r.mode] = true
    end
    for _, net in ipairs(NETS) do
      assert.is_true(seen[net .. '/fp32'], net .. ' fp32 missing')
      assert.is_true(seen[net .. '/bf16'], net .. ' bf16 missing')
    end
    if not H.sh('command -v python3 >/dev/null 2>&1 && echo yes'):find('yes') then
      print('SKIPPED: nets_table.py needs python3')
      return
    end
    local table_out, rc = H.sh(string.format('python3 %s %s --out %s', H.q(H.root .. '/bench/nets_table.py'),
                                             H.q(raw), H.q(tmp .. '/merged.json')))
    assert.equal(0, rc, table_out)
    local rows = 0
    for _ in table_out:gmatch('\n| [%w_]+ | [%w]+ | 2 |') do rows = rows + 1 end
    assert.equal(16, rows, table_out)
  end)
end)

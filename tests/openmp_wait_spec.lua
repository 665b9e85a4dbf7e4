-- luacnn's OpenMP threads spin briefly before sleeping (cli/openmp_wait.c): libgomp's default
-- spin made LeNet's epoch up to 8x slower beside other work. What libgomp took is read from its
-- own OMP_DISPLAY_ENV=VERBOSE listing, an OpenMP-standard report.
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')

-- libgomp's spin count in a luacnn started with ENV (the suite's own setting removed first),
-- and what the script sees in its environment. The listing of the process that runs the
-- script is the last one: a process that restarts itself prints one before it does.
local function spin(env)
  local out = H.luacnn([[-e "print('env=' .. tostring(os.getenv('GOMP_SPINCOUNT')))"]], nil,
    'env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY -u LUACNN_SET_GOMP_SPINCOUNT OMP_DISPLAY_ENV=VERBOSE ' .. env)
  local last
  for count in out:gmatch("GOMP_SPINCOUNT = '(%d+)'") do last = count end
  return last, out:match('env=(%S+)'), out
end

describe('OpenMP waiting', function()
  it('is a short spin by default, in libgomp itself', function()
    local libgomp, script, out = spin('')
    if not out:find('OPENMP DISPLAY ENVIRONMENT', 1, true) then
      print('SKIPPED: this luacnn does not use libgomp')
      return
    end
    assert.equal('10000', libgomp, out)
    assert.equal('10000', script, out)
  end)

  it("leaves the user's GOMP_SPINCOUNT or OMP_WAIT_POLICY alone", function()
    local libgomp, script, out = spin('GOMP_SPINCOUNT=1234')
    if libgomp then assert.equal('1234', libgomp, out) end
    assert.equal('1234', script, out)
    _, script, out = spin('OMP_WAIT_POLICY=PASSIVE')
    assert.equal('nil', script, out)
  end)
end)

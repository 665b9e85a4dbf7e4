-- lib/luacnn/jupyter.lua without a kernel: how cells become chunks (locals kept across
-- cells, the last expression returned), is_complete, MIME bundles, the summary table and
-- lc.display's fallback. The kernel itself is tested with the real Jupyter client in
-- tests/jupyter/test_kernel.py.
local lc = require 'luacnn'
local J = require 'luacnn.jupyter'
-- the globals cells see (busted runs a spec in an environment of its own)
local G = load('return _G')()

-- Runs a cell as the kernel does and returns its values packed.
local function cell(code)
  local f, err = J.compile(code, '=In[1]')
  assert(f, err)
  return table.pack(f())
end

describe('jupyter.globalize', function()
  it('makes top-level locals globals and leaves nested ones alone', function()
    assert.equal('x = 1', J.globalize('local x = 1'))
    assert.equal('a, b = 1, 2', J.globalize('local a, b = 1, 2'))
    assert.equal('a, b = nil', J.globalize('local a, b'))
    assert.equal('function f(x) local y = x return y end',
                 J.globalize('local function f(x) local y = x return y end'))
    assert.equal('k = 3', J.globalize('local k <const> = 3'))
    assert.equal('for i = 1, 2 do local z = i end', J.globalize('for i = 1, 2 do local z = i end'))
    assert.equal('if a then local z = 1 else local w = 2 end\nq = 1',
                 J.globalize('if a then local z = 1 else local w = 2 end\nlocal q = 1'))
    assert.equal('repeat local r = 1 until r\nr = 2', J.globalize('repeat local r = 1 until r\nlocal r = 2'))
  end)

  it('is not fooled by strings and comments, and keeps <close> variables local', function()
    assert.equal("s = 'local x = 1 end' -- local y\nt = [[do local u]]",
                 J.globalize("local s = 'local x = 1 end' -- local y\nlocal t = [[do local u]]"))
    assert.equal('local c <close> = nil', J.globalize('local c <close> = nil'))
    assert.equal('--[[ local a\nend ]] b = 1', J.globalize('--[[ local a\nend ]] local b = 1'))
  end)
end)

describe('jupyter.compile', function()
  before_each(function() G.jupyter_spec_x, G.jupyter_spec_sq, G.jupyter_spec_z = nil, nil, nil end)

  it('returns the value of a last expression, on one line or several', function()
    assert.same({n = 1, 2}, cell('1 + 1'))
    assert.same({n = 1, 42}, cell('local jupyter_spec_x = 40\njupyter_spec_x + 2'))
    assert.equal(40, G.jupyter_spec_x)   -- the top-level local became a global
    assert.same({n = 2, 1, 2}, cell('jupyter_spec_x = 1\n1,\n2'))
    assert.same({n = 1, 9}, cell('local function jupyter_spec_sq(a) return a * a end\njupyter_spec_sq(3)'))
    assert.same({n = 0}, cell('jupyter_spec_x = 3'))
    assert.same({n = 0}, cell('jupyter_spec_x = 3 -- a comment\n\n'))
  end)

  it('never splits a last line that continues the statement above', function()
    G.jupyter_spec_x = 10
    assert.same({n = 0}, cell('jupyter_spec_z = 1\n-jupyter_spec_x'))
    assert.equal(-9, G.jupyter_spec_z)
  end)

  it('gives the syntax error with the cell name', function()
    local f, err = J.compile('x = = 1', '=In[7]')
    assert.is_nil(f)
    assert.matches('^In%[7%]:1:', err)
  end)
end)

describe('jupyter.is_complete', function()
  it('tells complete, incomplete and invalid code apart', function()
    assert.equal('complete', J.is_complete('x = 1').status)
    assert.equal('complete', J.is_complete('1 + 1').status)
    assert.equal('incomplete', J.is_complete('for i = 1, 3 do').status)
    assert.equal('incomplete', J.is_complete('x = {1,').status)
    assert.equal('incomplete', J.is_complete('s = [[abc').status)
    assert.equal('invalid', J.is_complete('x = = 1').status)
  end)
end)

describe('jupyter.bundle', function()
  it('shows small tensors as an HTML table too, big ones as text only', function()
    local b = J.bundle(lc.tensor{{1, 2}, {3, 4}})
    assert.equal(tostring(lc.tensor{{1, 2}, {3, 4}}), b['text/plain'])
    assert.matches('<caption>tensor %(2, 2%), float32, cpu</caption>', b['text/html'])
    assert.equal(2, select(2, b['text/html']:gsub('<tr>', '')))
    assert.is_nil(J.bundle(lc.zeros{50, 50})['text/html'])
    assert.is_nil(J.bundle(lc.zeros{2, 2, 2})['text/html'])
  end)

  it('shows a uint8 (C, H, W) tensor as a PNG picture of its size', function()
    local img = lc.zeros({3, 5, 7}, {dtype = 'uint8'})
    local png = J.bundle(img)['image/png']
    assert.is_string(png)
    assert.equal('\137PNG\r\n\26\n', png:sub(1, 8))
    local w, h = string.unpack('>I4I4', png, 17)
    assert.same({7, 5}, {w, h})
    assert.is_nil(J.bundle(lc.zeros{3, 5, 7})['image/png'])   -- float: not a picture
  end)

  it('honours __repr_html and __repr_png, and shows PNG strings as images', function()
    local png = '\137PNG\r\n\26\n' .. string.pack('>I4', 13) .. 'IHDR' .. string.pack('>I4I4', 3, 2)
    local obj = setmetatable({}, {__repr_html = function() return '<i>x</i>' end,
                                  __repr_png = function() return png end,
                                  __tostring = function() return 'X' end})
    local b = J.bundle(obj)
    assert.equal('<i>x</i>', b['text/html'])
    assert.equal(png, b['image/png'])
    assert.equal('X', b['text/plain'])
    local p = J.bundle(png)
    assert.equal(png, p['image/png'])
    assert.equal('<PNG image 3x2>', p['text/plain'])
    assert.same({['text/plain'] = '1\tx\tnil'}, J.bundle(1, 'x', nil))
    assert.same({['text/plain'] = 'a\nb\n1'}, J.bundle('a\nb', 1))
    assert.equal('a &lt;b&gt; &amp; &quot;c&quot;', J.html_escape('a <b> & "c"'))
  end)
end)

describe('jupyter.summary_html', function()
  it('turns net:summary text into a table with a row per layer', function()
    local nn = lc.nn
    local net = nn.Sequential{nn.Conv2d(1, 6, 5, {padding = 2}), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 28 * 28, 10)}
    local text = net:summary({1, 1, 28, 28}, {print = false})
    local html = J.summary_html(text)
    assert.equal(7, select(2, html:gsub('<tr>', '')))   -- header, input, 4 layers, total
    assert.matches('<td>1</td><td[^>]*>Conv2d</td><td>%(1, 6, 28, 28%)</td><td[^>]*>156</td>', html)
    assert.matches('<td[^>]*><b>total</b></td><td></td><td[^>]*>47,206</td>', html)
    assert.matches('47,206', html)
  end)
end)

describe('jupyter.display outside a kernel', function()
  it('prints the text and returns nil', function()
    local printed
    local print0 = G.print
    G.print = function(s) printed = s end
    local ok, id = pcall(J.display, setmetatable({}, {__tostring = function() return 'shown' end}))
    G.print = print0
    assert.is_true(ok)
    assert.is_nil(id)
    assert.equal('shown', printed)
  end)
end)

describe('jupyter.inspect', function()
  it('gives a function signature with its doc comment, and a tensor its shape', function()
    local lc0 = rawget(G, 'lc')
    rawset(G, 'lc', lc)
    local r = J.inspect('lc.plot.lines(', 13, 0)
    assert.is_true(r.found)
    assert.matches('^lc%.plot%.lines%(c%)', r.data['text/plain'])
    assert.matches('One chart', r.data['text/plain'])
    G.jupyter_spec_t = lc.zeros{2, 3}
    r = J.inspect('jupyter_spec_t', 5, 0)
    assert.matches('shape %(2, 3%), dtype float32, device cpu', r.data['text/plain'])
    assert.is_false(J.inspect('no_such_name_here', 3, 0).found)
    G.jupyter_spec_t = nil
    rawset(G, 'lc', lc0)
  end)
end)

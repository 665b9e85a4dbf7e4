-- luacnn.plot and the chart binding: PNG output, colours, styles, panels, and errors.
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')
local plot = require 'luacnn.plot'

local function png_ok(bytes)
  return type(bytes) == 'string' and bytes:sub(1, 8) == '\137PNG\r\n\26\n'
end

describe('luacnn.plot without drawing', function()
  it('reads colours as palette entries, names, hex text and numbers', function()
    assert.equal(0x1f77b4, plot.color('C1'))
    assert.equal(0xff7f0e, plot.color('C2'))
    assert.equal(0x1f77b4, plot.color('C11'))       -- wraps around
    assert.equal(0xd62728, plot.color('red'))
    assert.equal(0xd62728, plot.color('r'))
    assert.equal(0x123456, plot.color('#123456'))
    assert.equal(0x123456, plot.color(0x123456))
    local ok, err = pcall(plot.color, 'chartreuse')
    assert.is_false(ok)
    assert.matches("unknown colour 'chartreuse'", err)
  end)

  it('reads the size of a PNG', function()
    local fake = '\137PNG\r\n\26\n' .. string.pack('>I4', 13) .. 'IHDR' .. string.pack('>I4I4', 640, 480)
    local w, h = plot.png_size(fake)
    assert.equal(640, w)
    assert.equal(480, h)
    assert.is_nil(plot.png_size('not a png at all, just some text'))
  end)
end)

describe('luacnn.plot drawing', function()
  local tmp
  local available = H.plot_available()
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() H.rmdir(tmp) end)

  it('is available inside the luacnn executable', function()
    if H.inside_luacnn() then
      local ok, why = plot.available()
      assert.is_true(ok, 'chart binding missing from luacnn.core: ' .. tostring(why))
    end
  end)

  if not available then return end

  local curves = {
    title = 'LeNet', xlabel = 'epoch', ylabel = 'value',
    series = {
      {name = 'train loss', x = {1, 2, 3, 4}, y = {2.3, 0.9, 0.6, 0.5}},
      {name = 'train acc', x = {1, 2, 3, 4}, y = {0.3, 0.6, 0.75, 0.8}, fmt = 'm--'},
      {name = 'test acc', x = {1, 2, 3, 4}, y = {0.35, 0.62, 0.74, 0.79}, fmt = 'g-.'},
    },
  }

  it('returns PNG bytes of the default size without a path', function()
    local bytes = plot.lines(curves)
    assert.is_true(png_ok(bytes))
    local w, h = plot.png_size(bytes)
    assert.equal(800, w)
    assert.equal(500, h)
  end)

  it('writes a file when given a path, at the size asked for', function()
    local spec = {}
    for k, v in pairs(curves) do spec[k] = v end
    spec.path, spec.width, spec.height = tmp .. '/c.png', 640, 400
    assert.equal(tmp .. '/c.png', plot.lines(spec))
    local w, h = plot.png_size(tmp .. '/c.png')
    assert.equal(640, w)
    assert.equal(400, h)
    assert.same({'c.png'}, H.ls(tmp))
  end)

  it('draws markers, gaps, log axes, limits, categories and every legend place', function()
    local legends = {'best', 'upper right', 'upper left', 'lower left', 'lower right', 'right',
                     'center left', 'lower center', 'upper center', 'outside', 'none'}
    for _, where in ipairs(legends) do
      assert.is_true(png_ok(plot.lines{
        legend = where, xlog = true, ylim = {0, 1},
        series = {{name = 'acc', x = {1e-3, 1e-2, 1e-1, 1}, y = {0.2, 0 / 0, 0.7, 0.6}, fmt = 'o-'},
                  {name = 'pts', x = {1e-3, 1}, y = {0.5, 0.5}, marker = 'diamond', dash = 'none', alpha = 0.5}},
      }), where)
    end
    assert.is_true(png_ok(plot.lines{
      xticklabels = {'sgd', 'adam', 'adamw'}, series = {{y = {0.8, 0.82, 0.83}, fmt = 'rs'}},
    }))
    assert.is_true(png_ok(plot.lines{series = {}}))   -- empty axes
  end)

  it('puts several panels in one figure', function()
    local bytes = plot.figure{title = 'three', cols = 3, panels = {curves, curves, curves}}
    local w, h = plot.png_size(bytes)
    assert.equal(1560, w)
    assert.equal(500, h)
    bytes = plot.figure{cols = 2, panels = {curves, curves, curves, curves}}
    w, h = plot.png_size(bytes)
    assert.equal(1040, w)
    assert.equal(840, h)
  end)

  it('gives errors that name the series and what is wrong', function()
    local function err_of(spec)
      local ok, err = pcall(plot.lines, spec)
      assert.is_false(ok)
      return err
    end
    assert.matches("series%[1%] %('a'%) has no y values", err_of{series = {{name = 'a', x = {1}}}})
    assert.matches("series 1 %('a'%): x has 3 values but y has 2",
                   err_of{series = {{name = 'a', x = {1, 2, 3}, y = {1, 2}}}})
    assert.matches("series 1: y%[2%] must be a number, got string",
                   err_of{series = {{y = {1, 'two'}}}})
    assert.matches("legend must be one of 'best', .*'outside', 'none', got 'top'",
                   err_of{legend = 'top', series = {}})
    assert.matches("dash must be one of 'solid'", err_of{series = {{y = {1}, dash = 'wavy'}}})
    assert.matches("cannot read fmt 'q%-%-'", err_of{series = {{y = {1}, fmt = 'q--'}}})
    assert.matches('xmin %(2%) must be less than xmax %(1%)', err_of{xlim = {2, 1}, series = {}})
    assert.matches('log y axis needs positive limits', err_of{ylog = true, ylim = {0, 1}, series = {}})
    assert.matches('width must be 100 to 8000 pixels, got 20', err_of{width = 20, series = {}})
    assert.matches("cannot write .*/nope/x%.png", err_of{path = tmp .. '/nope/x.png', series = {}})
    assert.matches('series%[1%] must be a table', err_of{series = {5}})
  end)

  it('exposes the tick helpers of the C side', function()
    local chart = require('luacnn.core')._chart
    local ticks, step = chart.nice_ticks(0.8, 0.83, 6)
    assert.equal(0.005, step)
    assert.equal(7, #ticks)
    assert.equal('0.800', chart.format_tick(ticks[1], step))
    assert.same({1, 10, 100, 1000}, chart.log_ticks(1, 1000, 6))
    assert.equal(10, #chart.palette)
  end)
end)

-- Line charts as PNG files (drawn in C with cairo: plot/chart.c).
--
--   local plot = require 'luacnn.plot'
--   plot.lines{
--     path = 'curves.png', title = 'LeNet', xlabel = 'epoch', ylabel = 'accuracy',
--     series = {
--       {name = 'train loss', x = {1, 2, 3}, y = {0.9, 0.6, 0.5}},
--       {name = 'test acc',   x = {1, 2, 3}, y = {0.6, 0.7, 0.8}, fmt = 'g-.'},
--     },
--   }                                           --> 'curves.png' (written atomically)
--
-- Series fields: name (legend text; leave it out to keep a series out of the legend),
-- y (list of numbers; 0/0 leaves a gap), x (default 1..#y), color ('C1'..'C10' from the
-- tab10 palette, a name such as 'red' or 'm', '#rrggbb' or 0xRRGGBB), dash ('solid',
-- 'dashed', 'dashdot', 'dotted', or 'none' for markers only), marker ('none', 'circle',
-- 'square', 'triangle', 'diamond'), width (pixels), alpha (0..1), or matplotlib's short
-- fmt string ('b-', 'm--', 'g-.', 'r:', 'o', 'k-s').
-- Chart fields: title, xlabel, ylabel, xlog, ylog (log axes), xlim = {lo, hi}, ylim =
-- {lo, hi} (either end may be nil), xticklabels (categorical x axis: x = 1..n),
-- legend ('best' (default), 'upper right', 'upper left', 'lower left', 'lower right',
-- 'right', 'center left', 'lower center', 'upper center', 'outside', 'none'), grid (true),
-- width, height (pixels; default 800 x 500), font_scale.
-- Without `path` plot.lines returns the PNG bytes instead of writing a file.
--
--   plot.figure{path = ..., title = ..., cols = 3, panels = {chart, chart, ...}}
-- draws several charts side by side (each panel takes the chart fields above).
local plot = {}

local chart_cache

-- The C side, or nil and the reason (a build without the core cannot draw).
local function chart()
  if chart_cache then return chart_cache end
  local ok, core = pcall(require, 'luacnn.core')
  if not ok then return nil, 'luacnn.core is not available: ' .. tostring(core) end
  if type(core) ~= 'table' or type(core._chart) ~= 'table' then
    return nil, 'luacnn.core has no chart support (_chart)'
  end
  chart_cache = core._chart
  return chart_cache
end

function plot.available()
  local c, why = chart()
  if c then return true end
  return false, why
end

local named_colors = {
  b = 0x1f77b4, blue = 0x1f77b4, o = 0xff7f0e, orange = 0xff7f0e, g = 0x2ca02c,
  green = 0x2ca02c, r = 0xd62728, red = 0xd62728, purple = 0x9467bd, brown = 0x8c564b,
  pink = 0xe377c2, gray = 0x7f7f7f, grey = 0x7f7f7f, olive = 0xbcbd22, cyan = 0x17becf,
  c = 0x17becf, m = 0xbf3fbf, magenta = 0xbf3fbf, y = 0xbfbf00, yellow = 0xbfbf00,
  k = 0x000000, black = 0x000000, w = 0xffffff, white = 0xffffff,
}
local palette = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf}

-- Colour k of the palette (1-based, wraps around), as 0xRRGGBB.
function plot.palette(k) return palette[(k - 1) % #palette + 1] end

-- 'C3', 'red', 'r', '#d62728' or 0xd62728 -> 0xd62728; raises on anything else.
function plot.color(c)
  if c == nil then return nil end
  if math.type(c) == 'integer' and c >= 0 and c <= 0xFFFFFF then return c end
  if type(c) == 'string' then
    local k = c:match('^C(%d+)$')
    if k then return plot.palette(tonumber(k)) end
    local hex = c:match('^#(%x%x%x%x%x%x)$')
    if hex then return tonumber(hex, 16) end
    if named_colors[c:lower()] then return named_colors[c:lower()] end
  end
  error(string.format("plot: unknown colour %s (use 'C1'..'C10', a name like 'red', '#rrggbb' or 0xRRGGBB)",
                      type(c) == 'string' and "'" .. c .. "'" or tostring(c)), 3)
end

local fmt_dash = {['--'] = 'dashed', ['-.'] = 'dashdot', [':'] = 'dotted', ['-'] = 'solid'}
local fmt_marker = {o = 'circle', s = 'square', ['^'] = 'triangle', D = 'diamond', d = 'diamond'}

-- matplotlib's fmt: [colour letter][marker][line style], e.g. 'm--', 'ro', 'g-.', 'k-s'.
local function parse_fmt(fmt, out)
  local rest = fmt
  local c = rest:match('^[bgrcmykw]')      -- 'o' is a marker in matplotlib, not a colour
  if c then
    out.color = out.color or named_colors[c]
    rest = rest:sub(2)
  end
  local dash
  for _, pat in ipairs{'%-%-', '%-%.', ':', '%-'} do
    local s, e = rest:find(pat)
    if s then
      dash = fmt_dash[rest:sub(s, e)]
      rest = rest:sub(1, s - 1) .. rest:sub(e + 1)
      break
    end
  end
  local m = rest:match('^[os%^Dd]$')
  if rest ~= '' and not m then
    error(string.format("plot: cannot read fmt '%s' (examples: 'b-', 'm--', 'g-.', 'r:', 'o', 'k-s')", fmt), 4)
  end
  if m then out.marker = out.marker or fmt_marker[m] end
  if dash then out.dash = out.dash or dash
  elseif m then out.dash = out.dash or 'none' end
end

local function number_list(v, what)
  if v == nil then return nil end
  if type(v) ~= 'table' then
    error(string.format('plot: %s must be a list of numbers, got %s', what, type(v)), 4)
  end
  if type(v.tolist) == 'function' then v = v:tolist() end   -- a tensor
  return v
end

local function convert_series(s, i)
  if type(s) ~= 'table' then
    error(string.format('plot: series[%d] must be a table {name=, x=, y=}, got %s', i, type(s)), 3)
  end
  local out = {name = s.name ~= nil and tostring(s.name) or nil,
               x = number_list(s.x, 'series[' .. i .. '].x'),
               y = number_list(s.y, 'series[' .. i .. '].y'),
               dash = s.dash or s.style, marker = s.marker, width = s.width, alpha = s.alpha}
  if s.color ~= nil then out.color = plot.color(s.color) end
  if s.fmt then parse_fmt(s.fmt, out) end
  if out.y == nil then
    error(string.format("plot: series[%d]%s has no y values", i,
                        out.name and (" ('" .. out.name .. "')") or ''), 3)
  end
  return out
end

local function convert_panel(c)
  if type(c) ~= 'table' then error('plot: a chart must be a table, got ' .. type(c), 3) end
  local p = {title = c.title, xlabel = c.xlabel, ylabel = c.ylabel, xlog = c.xlog, ylog = c.ylog,
             legend = c.legend, grid = c.grid, xticklabels = c.xticklabels, series = {}}
  if c.xlim then p.xmin, p.xmax = c.xlim[1], c.xlim[2] end
  if c.ylim then p.ymin, p.ymax = c.ylim[1], c.ylim[2] end
  p.xmin, p.xmax = c.xmin or p.xmin, c.xmax or p.xmax
  p.ymin, p.ymax = c.ymin or p.ymin, c.ymax or p.ymax
  if c.legend == false then p.legend = 'none' end
  for i, s in ipairs(c.series or {}) do p.series[i] = convert_series(s, i) end
  return p
end

local function draw(spec, path)
  local c, why = chart()
  if not c then error('plot: cannot draw: ' .. why, 3) end
  if path then
    local written = c.write_png(spec, path)
    if plot.on_write then plot.on_write(path) end   -- the Jupyter kernel shows it inline
    return written
  end
  return c.line_png(spec)
end

-- One chart; returns path (or the PNG bytes when no path is given).
function plot.lines(c)
  local p = convert_panel(c)
  p.width, p.height, p.font_scale = c.width, c.height, c.font_scale
  return draw(p, c.path)
end

-- Several charts in one image.
function plot.figure(f)
  if type(f) ~= 'table' or type(f.panels) ~= 'table' then
    error('plot.figure: expected {panels = {chart, ...}, path = ...}', 2)
  end
  local spec = {title = f.title, cols = f.cols, width = f.width, height = f.height,
                font_scale = f.font_scale, panels = {}}
  for i, c in ipairs(f.panels) do spec.panels[i] = convert_panel(c) end
  return draw(spec, f.path)
end

-- Readers of PNG files (tests, tools): width and height from the IHDR chunk.
function plot.png_size(path_or_bytes)
  local bytes = path_or_bytes
  if not bytes:find('^\137PNG') then
    local f = io.open(path_or_bytes, 'rb')
    if not f then return nil, 'cannot open ' .. path_or_bytes end
    bytes = f:read(64) or ''
    f:close()
  end
  if bytes:sub(1, 8) ~= '\137PNG\r\n\26\n' or bytes:sub(13, 16) ~= 'IHDR' then
    return nil, 'not a PNG image'
  end
  return string.unpack('>I4I4', bytes, 17)
end

return plot

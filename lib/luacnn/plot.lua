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
-- Without `path` plot.lines returns the PNG bytes instead of writing a file. A misspelt
-- field (of a chart, a series, a figure or image_grid's options) is an error naming the
-- nearest ("plot.lines: unknown option 'xlable' (did you mean 'xlabel'?)").
--
--   plot.figure{path = ..., title = ..., cols = 3, panels = {chart, chart, ...}}
-- draws several charts side by side (each panel takes the chart fields above).
--
--   plot.image_grid(images, {labels = {...}, path = 'grid.png', ncols = 8, scale = 2})
-- d2l's show_images as a PNG: images is a (B, C, H, W) tensor, uint8 or float in [0, 1]
-- (or a list of (C, H, W) / (H, W) tensors), C = 1 or 3, with a title over each image.
-- labels: names, or class numbers (1-based) named by `classes`. predictions = ..., truth
-- = ... (numbers or names, lists or tensors) title each image with its prediction: green
-- when right, red "pred (true)" when wrong. mean = {...}, std = {...} undo a Normalize
-- first. Other fields: ncols (default up to 8 per row), scale (screen pixels per image
-- pixel; default 1, or enough to make small images about 100 pixels), font_scale.
-- Returns path (or the PNG bytes without one) and the layout: {width, height, cols, rows,
-- cell_w, cell_h, title_h, pad, scale}; image k (1-based) has its top-left corner at
-- x = pad + (k-1) % cols * (cell_w + pad), y = pad + (k-1) // cols * (title_h + cell_h + pad)
-- + title_h, its title in the title_h pixels above it.
local plot = {}
local check_options = require('luacnn.options').check

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
  if type(v) == 'userdata' and type(v.dim) == 'function' then   -- a tensor
    v = v:cpu():reshape(-1):totable()
  end
  if type(v) ~= 'table' then
    error(string.format('plot: %s must be a list of numbers, got %s', what, type(v)), 4)
  end
  return v
end

local SERIES_FIELDS = {'name', 'x', 'y', 'color', 'dash', 'style', 'marker', 'width', 'alpha', 'fmt'}
-- the fields of a panel of plot.figure; plot.lines also takes these of the whole image
local PANEL_FIELDS = {'title', 'xlabel', 'ylabel', 'xlog', 'ylog', 'xlim', 'ylim', 'xmin', 'xmax',
                      'ymin', 'ymax', 'xticklabels', 'legend', 'grid', 'series'}
local IMAGE_FIELDS = {'path', 'width', 'height', 'font_scale'}
local CHART_FIELDS = {table.unpack(PANEL_FIELDS)}
for _, k in ipairs(IMAGE_FIELDS) do CHART_FIELDS[#CHART_FIELDS + 1] = k end

local function convert_series(s, i)
  if type(s) ~= 'table' then
    error(string.format('plot: series[%d] must be a table {name=, x=, y=}, got %s', i, type(s)), 3)
  end
  check_options(string.format('plot: series[%d]', i), s, SERIES_FIELDS, 4)
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

local function convert_panel(c, who, fields)
  if type(c) ~= 'table' then error('plot: a chart must be a table, got ' .. type(c), 3) end
  check_options(who, c, fields, 3)
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
  local p = convert_panel(c, 'plot.lines', CHART_FIELDS)
  p.width, p.height, p.font_scale = c.width, c.height, c.font_scale
  return draw(p, c.path)
end

-- Several charts in one image.
function plot.figure(f)
  if type(f) ~= 'table' or type(f.panels) ~= 'table' then
    error('plot.figure: expected {panels = {chart, ...}, path = ...}', 2)
  end
  check_options('plot.figure', f, {'panels', 'path', 'title', 'cols', 'width', 'height', 'font_scale'}, 2)
  local spec = {title = f.title, cols = f.cols, width = f.width, height = f.height,
                font_scale = f.font_scale, panels = {}}
  for i, c in ipairs(f.panels) do
    spec.panels[i] = convert_panel(c, string.format('plot.figure: panels[%d]', i), PANEL_FIELDS)
  end
  return draw(spec, f.path)
end

-- ---------------------------------------------------------------- image grids

local RIGHT, WRONG = 0x2ca02c, 0xd62728

local function grid_error(msg, ...) error('image_grid: ' .. string.format(msg, ...), 3) end

local function is_tensor(v) return type(v) == 'userdata' and type(v.dim) == 'function' end

-- images as one (B, C, H, W) float32 or uint8 CPU tensor
local function stack_images(lc, images)
  if is_tensor(images) then
    if images:dim() ~= 4 then
      grid_error('expected images as a (B, C, H, W) tensor or a list of (C, H, W) tensors, got shape %s',
                 tostring(images:size()))
    end
    return images
  end
  if type(images) ~= 'table' then
    grid_error('expected images as a (B, C, H, W) tensor or a list of (C, H, W) tensors, got %s', type(images))
  end
  if #images == 0 then grid_error('expected at least one image, got an empty list') end
  local list, first = {}, nil
  for i, im in ipairs(images) do
    if not is_tensor(im) or (im:dim() ~= 3 and im:dim() ~= 2) then
      grid_error('images[%d] must be a (C, H, W) or (H, W) tensor, got %s', i,
                 is_tensor(im) and ('shape ' .. tostring(im:size())) or type(im))
    end
    if im:dim() == 2 then im = im:unsqueeze(1) end
    im = im:cpu()
    if first and (im.dtype ~= first.dtype or tostring(im:size()) ~= tostring(first:size())) then
      grid_error('images[%d] is %s %s but images[1] is %s %s (all must match)', i, im.dtype,
                 tostring(im:size()), first.dtype, tostring(first:size()))
    end
    first = first or im
    list[i] = im
  end
  return lc.stack(list)
end

local function as_list(v, what)
  if v == nil then return nil end
  if is_tensor(v) then v = v:cpu():reshape(-1):totable() end
  if type(v) ~= 'table' then grid_error('%s must be a list or a tensor, got %s', what, type(v)) end
  return v
end

-- a class number (1-based, via classes) or a name, as text
local function class_name(v, classes, what, i)
  if math.type(v) == 'float' and v == math.floor(v) then v = math.tointeger(v) end
  if classes and math.type(v) == 'integer' then
    local name = classes[v]
    if name == nil then grid_error('%s[%d] = %d is not a class number 1..%d', what, i, v, #classes) end
    return tostring(name)
  end
  if type(v) ~= 'string' and type(v) ~= 'number' then
    grid_error('%s[%d] must be a name or a class number, got %s', what, i, type(v))
  end
  return tostring(v)
end

function plot.image_grid(images, opts)
  opts = opts or {}
  if type(opts) ~= 'table' then grid_error('options must be a table, got %s', type(opts)) end
  check_options('image_grid', opts, {'labels', 'classes', 'predictions', 'truth', 'mean', 'std',
                                     'ncols', 'scale', 'font_scale', 'path'}, 2)
  local c, why = chart()
  if not c then grid_error('cannot draw: %s', why) end
  local lc = require 'luacnn'
  local x = stack_images(lc, images)
  local B, C = x:size(1), x:size(2)
  if B == 0 then grid_error('expected at least one image, got 0') end
  if C ~= 1 and C ~= 3 then
    grid_error('expected 1 (gray) or 3 (RGB) channels in (B, C, H, W), got shape %s', tostring(x:size()))
  end
  x = x:cpu()
  if x.dtype ~= 'uint8' then
    if not x:is_floating_point() then
      grid_error('expected uint8 or float images, got %s', x.dtype)
    end
    x = x:float()
    if opts.mean or opts.std then   -- undo Normalize{mean, std}
      local function per_channel(v, what, dflt)
        v = v or dflt
        if type(v) == 'number' then v = {v} end
        if type(v) ~= 'table' or (#v ~= 1 and #v ~= C) then
          grid_error('%s must be a number or a list of %d numbers', what, C)
        end
        local full = {}
        for k = 1, C do full[k] = v[#v == 1 and 1 or k] end
        return lc.tensor(full):reshape(1, C, 1, 1)
      end
      x = x * per_channel(opts.std, 'std', 1) + per_channel(opts.mean, 'mean', 0)
    end
    local lo, hi = x:min():item(), x:max():item()
    if lo ~= lo or hi ~= hi or lo < -0.02 or hi > 1.02 then
      grid_error('float images must be in [0, 1], got values from %g to %g (pass mean = and std = to undo a Normalize)',
                 lo, hi)
    end
    x = x:clamp(0, 1):mul(255):add(0.5):to('uint8')
  end
  x = x:contiguous()

  local titles, colors
  local classes = opts.classes
  if opts.predictions ~= nil or opts.truth ~= nil then
    if opts.predictions == nil or opts.truth == nil then
      grid_error('predictions and truth go together (got only %s)', opts.predictions ~= nil and 'predictions' or 'truth')
    end
    local pred, truth = as_list(opts.predictions, 'predictions'), as_list(opts.truth, 'truth')
    if #pred ~= B or #truth ~= B then
      grid_error('%d images but %d predictions and %d truth values', B, #pred, #truth)
    end
    titles, colors = {}, {}
    for i = 1, B do
      local p, t = class_name(pred[i], classes, 'predictions', i), class_name(truth[i], classes, 'truth', i)
      if p == t then titles[i], colors[i] = p, RIGHT
      else titles[i], colors[i] = p .. ' (' .. t .. ')', WRONG end
    end
  elseif opts.labels ~= nil then
    local labels = as_list(opts.labels, 'labels')
    if #labels ~= B then grid_error('%d images but %d labels', B, #labels) end
    titles = {}
    for i = 1, B do titles[i] = class_name(labels[i], classes, 'labels', i) end
  end
  local spec = {images = x, titles = titles, colors = colors, cols = opts.ncols,
                scale = opts.scale, font_scale = opts.font_scale}
  return c.image_grid(spec, opts.path)
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

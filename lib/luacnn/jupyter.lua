-- What the Jupyter kernel (`luacnn kernel`, cli/kernel.c) asks of Lua: cells as chunks,
-- MIME bundles of values, inspection, and the display hooks of lc.plot and lc.d2l.
--
--   lc.display(obj [, {display_id = 'id', update = true}])   shows obj in the notebook
--
-- An object shows as text/plain (tostring), plus what its metatable offers:
-- __repr_html(obj) -> HTML, __repr_png(obj) -> PNG bytes, __repr_markdown(obj) -> text,
-- __repr_svg(obj) -> SVG text. A PNG string (lc.plot.lines{...} without a path) shows as
-- the image. Small tensors also show as an HTML table, uint8 image tensors (C, H, W) as the
-- picture. Outside a kernel lc.display prints.
local M = {}

local function kernel()
  return package.loaded['luacnn.kernel']
end

---------------------------------------------------------------- cells

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
            repeat return then true until while]]):gmatch('%a+') do keywords[w] = true end

-- The tokens of Lua source: {kind = 'name'|'keyword'|'string'|'number'|'op', text, s, e}.
-- Comments and white space are skipped. Unfinished strings end the list.
local function tokens(src)
  local out, i, n = {}, 1, #src
  while i <= n do
    local c = src:sub(i, i)
    if c:match('%s') then
      i = src:find('[^%s]', i) or n + 1
    elseif src:sub(i, i + 1) == '--' then
      local eq = src:match('^%[(=*)%[', i + 2)
      if eq then
        local _, e = src:find(']' .. eq .. ']', i + 4 + #eq, true)
        i = (e or n) + 1
      else
        i = (src:find('\n', i, true) or n) + 1
      end
    elseif c:match('[%a_]') then
      local s, e = src:find('^[%w_]+', i)
      local w = src:sub(s, e)
      out[#out + 1] = {kind = keywords[w] and 'keyword' or 'name', text = w, s = s, e = e}
      i = e + 1
    elseif c:match('%d') or (c == '.' and src:sub(i + 1, i + 1):match('%d')) then
      local s, e = src:find('^0[xX][%x%.]*[pP]?[%+%-]?%x*', i)
      if not s then s, e = src:find('^[%d%.]*[eE]?[%+%-]?%d*', i) end
      out[#out + 1] = {kind = 'number', text = src:sub(s, e), s = s, e = e}
      i = e + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = src:sub(j, j)
        if d == '\\' then j = j + 2
        elseif d == c or d == '\n' then break
        else j = j + 1 end
      end
      out[#out + 1] = {kind = 'string', s = i, e = j}
      i = j + 1
    elseif c == '[' and src:match('^%[=*%[', i) then
      local eq = src:match('^%[(=*)%[', i)
      local _, e = src:find(']' .. eq .. ']', i + 2 + #eq, true)
      out[#out + 1] = {kind = 'string', s = i, e = e or n}
      i = (e or n) + 1
    else
      local op = src:match('^[=~<>]=', i) or src:match('^%.%.%.?', i) or src:match('^::', i)
                 or src:match('^//', i) or src:match('^<<', i) or src:match('^>>', i) or c
      out[#out + 1] = {kind = 'op', text = op, s = i, e = i + #op - 1}
      i = i + #op
    end
  end
  return out
end

-- The cell with its top-level `local` declarations made global assignments, so that a
-- later cell sees them, as a notebook user expects: `local x = 1` -> `x = 1`,
-- `local function f` -> `function f`, `local a, b` -> `a, b = nil`. Locals inside blocks and
-- functions stay local; `<close>` variables stay local (closing them is the point).
function M.globalize(src)
  local toks = tokens(src)
  local edits = {}
  local depth = 0
  local openers = {['do'] = true, ['function'] = true, ['if'] = true, ['repeat'] = true}
  for k, t in ipairs(toks) do
    if t.kind == 'keyword' then
      if openers[t.text] then
        depth = depth + 1
      elseif t.text == 'end' or t.text == 'until' then
        depth = math.max(depth - 1, 0)
      elseif t.text == 'local' and depth == 0 then
        local nxt = toks[k + 1]
        if nxt and nxt.kind == 'keyword' and nxt.text == 'function' then
          edits[#edits + 1] = {t.s, nxt.s - 1, ''}
        elseif nxt and nxt.kind == 'name' then
          -- name [<attrib>] {, name [<attrib>]} [= ...]
          local j, last, attribs, close = k + 1, nil, {}, false
          while toks[j] and toks[j].kind == 'name' do
            last = toks[j]
            j = j + 1
            if toks[j] and toks[j].text == '<' and toks[j + 1] and toks[j + 2] and toks[j + 2].text == '>' then
              if toks[j + 1].text == 'close' then close = true end
              attribs[#attribs + 1] = {last.e + 1, toks[j + 2].e, ''}
              last = toks[j + 2]
              j = j + 3
            end
            if toks[j] and toks[j].text == ',' then j = j + 1 else break end
          end
          if not close and last then
            edits[#edits + 1] = {t.s, nxt.s - 1, ''}
            for _, a in ipairs(attribs) do edits[#edits + 1] = a end
            if not (toks[j] and toks[j].text == '=') then
              edits[#edits + 1] = {last.e + 1, last.e, ' = nil'}
            end
          end
        end
      end
    end
  end
  table.sort(edits, function(a, b) return a[1] > b[1] end)
  for _, e in ipairs(edits) do
    src = src:sub(1, e[1] - 1) .. e[3] .. src:sub(e[2] + 1)
  end
  return src
end

local function loads(code, name)
  return load(code, name, 't')
end

-- The cell as a function that returns the value of its last expression, if it ends with
-- one: the whole cell as an expression, else its last lines (`x = 1 \n x + 1` returns 2).
-- Returns the function, or nil and the syntax error.
function M.compile(code, chunkname)
  chunkname = chunkname or '=cell'
  local src = M.globalize(code):gsub('%s+$', '')
  local f = loads('return ' .. src .. ';', chunkname)
  if f then return f end
  local whole, err = loads(src, chunkname)
  local lines = {}
  for line in (src .. '\n'):gmatch('(.-)\n') do lines[#lines + 1] = line end
  for i = #lines, 2, -1 do
    local before = table.concat(lines, '\n', 1, i - 1)
    local tail = table.concat(lines, '\n', i)
    -- when the whole cell compiles, its tail must be a statement of its own (a call), or
    -- splitting would change its meaning (`x = 1` / `-x` is `x = 1 - x`)
    if tail:match('%S') and not tail:match('^%s*%-%-') and (not whole or loads(tail, chunkname))
       and loads(before, chunkname) and loads('return ' .. tail .. ';', chunkname) then
      local g = loads(before .. '\nreturn ' .. tail .. ';', chunkname)
      if g then return g end
    end
  end
  if whole then return whole end
  return nil, err
end

-- is_complete_request: 'complete', 'incomplete' (more lines would finish it) or 'invalid'.
function M.is_complete(code)
  if code:match('^%s*$') then return {status = 'complete'} end
  local f1, e1 = load(code, '=cell', 't')
  local f2, e2 = load('return ' .. code, '=cell', 't')
  if f1 or f2 then return {status = 'complete'} end
  local function at_eof(e) return e and e:sub(-5) == '<eof>' end
  if at_eof(e1) or at_eof(e2) then return {status = 'incomplete', indent = ''} end
  return {status = 'invalid'}
end

local displayed   -- display ids shown by the current cell, by key

function M.begin_cell()
  displayed = {}
end

---------------------------------------------------------------- bundles

local function html_escape(s)
  return (tostring(s):gsub('[&<>"]', {['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;', ['"'] = '&quot;'}))
end
M.html_escape = html_escape

local function is_tensor(v)
  local lc = package.loaded['luacnn']
  return type(lc) == 'table' and type(lc.is_tensor) == 'function' and lc.is_tensor(v)
end

local function fmt_number(x)
  if math.type(x) == 'integer' then return tostring(x) end
  if type(x) == 'boolean' then return tostring(x) end
  if x ~= x then return 'nan' end
  return string.format('%.4g', x)
end

local TABLE_CELLS = 400   -- tensors with at most this many elements get an HTML table

-- A 1-D or 2-D tensor with few elements as an HTML table, else nil.
function M.tensor_html(t)
  local shape = t:shape()
  local dim, numel = #shape, 1
  for i = 1, dim do numel = numel * shape[i] end
  if dim < 1 or dim > 2 or numel > TABLE_CELLS or numel == 0 then return nil end
  local ok, rows = pcall(function() return t:tolist() end)
  if not ok or type(rows) ~= 'table' then return nil end
  if dim == 1 then rows = {rows} end
  local out = {'<table class="luacnn-tensor"><caption>tensor ', html_escape(tostring(shape)),
               ', ', html_escape(t.dtype), ', ', html_escape(t.device), '</caption>'}
  for _, row in ipairs(rows) do
    out[#out + 1] = '<tr>'
    for _, x in ipairs(row) do out[#out + 1] = '<td>' .. fmt_number(x) .. '</td>' end
    out[#out + 1] = '</tr>'
  end
  out[#out + 1] = '</table>'
  return table.concat(out)
end

-- A uint8 image tensor (C, H, W), C = 1, 3 or 4 (what lc.image.read gives), as PNG bytes.
function M.tensor_png(t)
  local shape = t:shape()
  if t.dtype ~= 'uint8' or #shape ~= 3 or not (shape[1] == 1 or shape[1] == 3 or shape[1] == 4)
     or shape[2] < 2 or shape[3] < 2 or shape[2] * shape[3] > 4096 * 4096 then
    return nil
  end
  local ok, image = pcall(require, 'luacnn.image')
  if not ok or type(image.write) ~= 'function' then return nil end
  local base = os.tmpname()
  local path = base .. '.png'
  local wrote = pcall(image.write, path, t:cpu())
  local png
  if wrote then
    local f = io.open(path, 'rb')
    if f then png = f:read('a'); f:close() end
  end
  os.remove(path)
  os.remove(base)
  return png
end

local function repr_field(v, name)
  local mt = getmetatable(v)
  if type(mt) ~= 'table' then return nil end
  local f = rawget(mt, name)
  if f == nil then return nil end
  if type(f) == 'function' then return f(v) end
  return f
end

local function is_png(v)
  return type(v) == 'string' and v:sub(1, 8) == '\137PNG\r\n\26\n'
end

-- The MIME bundle of one value: {['text/plain'] = ..., ['text/html'] = ..., ...}.
function M.bundle_one(v)
  if is_png(v) then
    local w, h = string.unpack('>I4I4', v, 17)
    return {['image/png'] = v, ['text/plain'] = string.format('<PNG image %dx%d>', w, h)}
  end
  local b = {['text/plain'] = tostring(v)}
  if is_tensor(v) then
    b['text/html'] = M.tensor_html(v)
    b['image/png'] = M.tensor_png(v)
  end
  local html = repr_field(v, '__repr_html')
  if html ~= nil then b['text/html'] = tostring(html) end
  local png = repr_field(v, '__repr_png')
  if png ~= nil then b['image/png'] = png end
  local md = repr_field(v, '__repr_markdown')
  if md ~= nil then b['text/markdown'] = tostring(md) end
  local svg = repr_field(v, '__repr_svg')
  if svg ~= nil then b['image/svg+xml'] = tostring(svg) end
  return b
end

-- The bundle of a cell's results: one value as bundle_one; several as their texts
-- separated by tabs, as the REPL prints them, or one per line when one of them has several
-- lines (tensors).
function M.bundle(...)
  local n = select('#', ...)
  if n == 1 then return M.bundle_one((...)) end
  local parts, multiline = {}, false
  for i = 1, n do
    parts[i] = tostring((select(i, ...)))
    multiline = multiline or parts[i]:find('\n', 1, true) ~= nil
  end
  return {['text/plain'] = table.concat(parts, multiline and '\n' or '\t')}
end

local next_id = 0
local function new_display_id()
  next_id = next_id + 1
  return string.format('luacnn-%d-%d', os.time(), next_id)
end

-- lc.display(obj [, opts]): shows obj; opts.display_id names the output so that a later
-- lc.display(other, {display_id = same, update = true}) replaces it in place. Returns the
-- display id; opts.metadata goes with the output. Outside a kernel it prints tostring(obj)
-- and returns nil. A misspelt option is an error naming the nearest.
function M.display(obj, opts)
  opts = require('luacnn.options').check('display', opts, {'display_id', 'update', 'metadata'}, 2)
  local k = kernel()
  if not k then
    print(is_png(obj) and M.bundle_one(obj)['text/plain'] or tostring(obj))
    return nil
  end
  local id = opts.display_id
  if id == true or (id == nil and not opts.update) then id = new_display_id() end
  k.display(M.bundle_one(obj), {display_id = id and tostring(id), update = opts.update,
                                metadata = opts.metadata})
  return id
end

-- Shows png bytes under the key `key` in the current cell: the first time as a new output,
-- then as updates of it (a curve redrawn each epoch stays one picture).
function M.show_png(key, png)
  local k = kernel()
  if not k or not is_png(png) then return end
  displayed = displayed or {}
  local id = displayed[key]
  if id then
    M.display(png, {display_id = id, update = true})
  else
    displayed[key] = M.display(png, {display_id = true})
  end
end

---------------------------------------------------------------- inspection

-- The dotted name around byte offset `cursor` (0-based) of `code`: 'lc.nn.Conv2d'.
local function name_at(code, cursor)
  local s, e = cursor, cursor
  while s > 0 and code:sub(s, s):match('[%w_%.:]') do s = s - 1 end
  while e < #code and code:sub(e + 1, e + 1):match('[%w_]') do e = e + 1 end
  local name = code:sub(s + 1, e):gsub('^[%.:]+', ''):gsub('[%.:]+$', '')
  if name == '' or name:match('^%d') then
    -- just after a call's '(' : the function called
    local before = code:sub(1, cursor):match('([%a_][%w_%.:]*)%s*%($')
    return before
  end
  return name
end

local function resolve(name)
  local v = _G
  for part in name:gmatch('[^%.:]+') do
    if type(v) ~= 'table' and type(v) ~= 'userdata' then return nil end
    local ok, nv = pcall(function() return v[part] end)
    if not ok then return nil end
    v = nv
  end
  return v
end

-- The comment block just above line `line` of a source file: a function's documentation.
local function doc_above(source, line)
  if type(source) ~= 'string' or source:sub(1, 1) ~= '@' then return nil end
  local f = io.open(source:sub(2), 'r')
  if not f then return nil end
  local lines, i = {}, 0
  for l in f:lines() do
    i = i + 1
    if i >= line then break end
    lines[i] = l
  end
  f:close()
  local doc = {}
  for j = line - 1, math.max(line - 40, 1), -1 do
    local text = lines[j] and lines[j]:match('^%s*%-%-+ ?(.*)$')
    if not text then break end
    table.insert(doc, 1, text)
  end
  return #doc > 0 and table.concat(doc, '\n') or nil
end

local function signature(name, f)
  local info = debug.getinfo(f, 'Su')
  if info.what == 'C' then return name .. '(...)  [C function]', info end
  local params = {}
  for i = 1, info.nparams do params[i] = debug.getlocal(f, i) or ('arg' .. i) end
  if info.isvararg then params[#params + 1] = '...' end
  if name:find(':') and params[1] == 'self' then table.remove(params, 1) end
  return name .. '(' .. table.concat(params, ', ') .. ')', info
end

-- inspect_request: a function's signature and documentation; a tensor's shape, dtype and
-- device; other values' type and text.
function M.inspect(code, cursor, detail)
  local name = name_at(code, cursor)
  if not name then return {found = false, data = {}} end
  local v = resolve(name)
  if v == nil then return {found = false, data = {}} end
  local text
  if type(v) == 'function' then
    local sig, info = signature(name, v)
    local doc = doc_above(info.source, info.linedefined)
    text = sig
    if doc then text = text .. '\n\n' .. doc end
    if info.what ~= 'C' then
      text = text .. string.format('\n\n%s:%d', info.short_src, info.linedefined)
    end
  elseif is_tensor(v) then
    text = string.format('%s: tensor, shape %s, dtype %s, device %s', name, tostring(v:shape()),
                         v.dtype, v.device)
    if detail and detail > 0 or v:numel() <= 64 then text = text .. '\n' .. tostring(v) end
  elseif type(v) == 'table' then
    local mt = getmetatable(v)
    local kind = type(mt) == 'table' and rawget(mt, '__name') or 'table'
    local s = tostring(v)
    local keys = {}
    for k in pairs(v) do if type(k) == 'string' then keys[#keys + 1] = k end end
    table.sort(keys)
    text = string.format('%s: %s', name, kind)
    if not s:match('^table: ') then text = text .. '\n' .. s end
    if #keys > 0 then
      text = text .. '\nfields: ' .. table.concat(keys, ', ', 1, math.min(#keys, 40))
             .. (#keys > 40 and ', ...' or '')
    end
  else
    text = string.format('%s: %s = %s', name, type(v), tostring(v))
  end
  return {found = true, data = {['text/plain'] = text}, metadata = {}}
end

---------------------------------------------------------------- hooks

-- net:summary(...) in a notebook: the same table, also as HTML.
function M.summary_html(text)
  local lines = {}
  for l in (text .. '\n'):gmatch('(.-)\n') do lines[#lines + 1] = l end
  local header = lines[1] or ''
  local c2 = header:find('layer', 1, true)
  local c3 = header:find('output shape', 1, true)
  if not (c2 and c3) then return nil end
  local out = {'<table class="luacnn-summary"><thead><tr><th>#</th><th>layer</th>',
               '<th>output shape</th><th>params</th></tr></thead><tbody>'}
  local function trim(s) return (s:gsub('^%s+', ''):gsub('%s+$', '')) end
  for i = 2, #lines do
    local l = lines[i]
    if l:match('%S') then
      -- every line has the same width; params is right-aligned at its end (no spaces in it)
      local params = l:match('(%S+)$') or ''
      local rest = l:sub(1, #l - #params)
      local label = trim(rest:sub(2, c2 - 1))
      local layer = rest:sub(c2, c3 - 1):gsub('%s+$', '')
      local indent = #layer:match('^ *')
      local shape = trim(rest:sub(c3))
      local name = html_escape(trim(layer))
      if (name == 'total' or name == 'input') and label == '' then name = '<b>' .. name .. '</b>' end
      out[#out + 1] = '<tr>' .. string.format('<td>%s</td>', html_escape(label))
          .. string.format('<td style="padding-left:%.1fem">%s</td>', 0.5 + indent / 2, name)
          .. string.format('<td>%s</td>', html_escape(shape))
          .. string.format('<td style="text-align:right">%s</td>', html_escape(params)) .. '</tr>'
    end
  end
  out[#out + 1] = '</tbody></table>'
  return table.concat(out)
end

local function wrap_summary(nn)
  local Module = type(nn) == 'table' and rawget(nn, 'Module')
  if type(Module) ~= 'table' or type(Module.summary) ~= 'function' or rawget(Module, '__jupyter') then
    return
  end
  local summary = Module.summary
  rawset(Module, '__jupyter', true)
  Module.summary = function(self, shape, opts)
    opts = opts or {}
    if opts.print == false or not kernel() then return summary(self, shape, opts) end
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    o.print = false
    local text = summary(self, shape, o)
    local k = kernel()
    k.display({['text/plain'] = text, ['text/html'] = M.summary_html(text)}, {})
  end
end

-- The training curves of lc.d2l.train_ch6 in a notebook: drawn after every epoch from the
-- history so far and shown as one picture updated in place (update_display_data), as d2l's
-- Animator does. When the run writes curves.png, lc.plot's file hook shows that instead.
function M.d2l_epoch(row, history, run)
  if run or not kernel() then return end
  local plot = require 'luacnn.plot'
  if not plot.available() then return end
  local x, series = {}, {}
  local cols = {{'train_loss', 'train loss', 'C1', 'solid'}, {'train_acc', 'train acc', 'm', 'dashed'},
                {'test_acc', 'test acc', 'g', 'dashdot'}, {'valid_acc', 'valid acc', 'g', 'dashdot'}}
  for i, r in ipairs(history) do x[i] = r.epoch or i end
  for _, c in ipairs(cols) do
    local y, any = {}, false
    for i, r in ipairs(history) do
      local v = r[c[1]]
      y[i] = type(v) == 'number' and v or 0 / 0
      any = any or type(v) == 'number'
    end
    if any then series[#series + 1] = {name = c[2], x = x, y = y, color = c[3], dash = c[4],
                                       marker = #history == 1 and 'circle' or nil} end
  end
  local png = plot.lines{xlabel = 'epoch', series = series, width = 560, height = 350,
                         xlim = {1, math.max(#history, 2)}}
  M.show_png('d2l:' .. tostring(history), png)
end

-- lc.plot wrote a PNG file: show it too (the same path again in one cell updates it).
function M.plot_file(path)
  if not kernel() then return end
  local f = io.open(path, 'rb')
  if not f then return end
  local png = f:read('a')
  f:close()
  M.show_png('file:' .. path, png)
end

-- io.read in a cell: the line comes from the notebook's input box (an input_request), read
-- as the format says ('l', 'L', 'n', a count; 'a' is the line).
function M.redirect_read()
  local k = kernel()
  if not (k and k.input) then return end
  local function read_one(fmt)
    fmt = fmt or 'l'
    if type(fmt) == 'string' then fmt = fmt:gsub('^%*', ''):sub(1, 1) end
    local line = k.input('')
    if fmt == 'n' then return tonumber(line) end
    if fmt == 'L' then return line .. '\n' end
    if math.type(fmt) == 'integer' then return line:sub(1, fmt) end
    return line
  end
  io.read = function(...)
    local n = select('#', ...)
    if n == 0 then return read_one('l') end
    local out = {}
    for i = 1, n do out[i] = read_one((select(i, ...))) end
    return table.unpack(out, 1, n)
  end
end

-- Called once by the kernel: `lc` as a global, completion hints, lc.display and the hooks.
function M.setup()
  local ok, lc = pcall(require, 'luacnn')
  if not ok then
    io.stderr:write('luacnn kernel: luacnn did not load: ', tostring(lc), '\n')
    return
  end
  rawset(_G, 'lc', lc)
  local rok, repl = pcall(require, 'luacnn.repl')
  if rok and type(repl) == 'table' and repl.setup then pcall(repl.setup, lc) end
  rawset(lc, 'display', M.display)
  M.redirect_read()
  local pok, plot = pcall(require, 'luacnn.plot')
  if pok and type(plot) == 'table' then
    plot.on_write = M.plot_file
    -- image grids (and any other plot function that returns the path it wrote): shown too;
    -- a file also shown through on_write is one picture, updated
    for _, name in ipairs{'image_grid'} do
      local f = rawget(plot, name)
      if type(f) == 'function' then
        plot[name] = function(...)
          local r = table.pack(f(...))
          local path = r[1]
          if type(path) == 'string' and not is_png(path) and path:match('%.png$') then
            M.plot_file(path)
          end
          return table.unpack(r, 1, r.n)
        end
      end
    end
  end
  -- lc.nn and lc.d2l load on first use: hook them when they do
  local loaded_hooks = {
    ['luacnn.nn'] = wrap_summary,
    ['luacnn.d2l'] = function(d2l) if type(d2l) == 'table' then d2l.on_epoch_display = M.d2l_epoch end end,
  }
  for name, hook in pairs(loaded_hooks) do
    if package.loaded[name] then hook(package.loaded[name]) end
  end
  local require0 = require
  rawset(_G, 'require', function(name, ...)
    local a, b = require0(name, ...)
    local hook = loaded_hooks[name]
    if hook then loaded_hooks[name] = nil; pcall(hook, a) end
    return a, b
  end)
end

return M

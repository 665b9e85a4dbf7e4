-- What a sweep shows and leaves behind: a line per run as it starts and ends, the table of
-- results (also the table `luacnn compare` prints), results.csv, and one plot of the main
-- metric per swept setting.
local run = require 'luacnn.run'
local plan = require 'luacnn.sweep.plan'

local report = {}

-- Text table: header list, rows of strings. Columns of numbers ('-' for none) are
-- right-aligned, header included.
function report.format_table(header, rows)
  local w, numeric = {}, {}
  local function len(c) return utf8.len(c) or #c end
  for j, h in ipairs(header) do w[j] = len(h); numeric[j] = true end
  for _, row in ipairs(rows) do
    for j = 1, #header do
      local c = row[j] or ''
      w[j] = math.max(w[j], len(c))
      if c ~= '' and c ~= '-' and not tonumber(c) then numeric[j] = false end
    end
  end
  local function line(cells)
    local out = {}
    for j = 1, #header do
      local c = cells[j] or ''
      local pad = string.rep(' ', w[j] - len(c))
      out[j] = numeric[j] and (pad .. c) or (c .. pad)
    end
    return ((' ' .. table.concat(out, '  ')):gsub('%s+$', ''))
  end
  local out = {line(header)}
  for _, row in ipairs(rows) do out[#out + 1] = line(row) end
  return table.concat(out, '\n')
end

-- An error for a table cell: one line, the script's folder dropped from its position
-- ("/long/path/lenet.lua:31: msg" -> "lenet.lua:31: msg"), cut to n characters.
function report.short_error(e, n)
  e = tostring(e):gsub('%s+', ' '):gsub('^[^%s:]*/([^/%s:]+:%d+:)', '%1')
  if #e > n then e = e:sub(1, n - 3) .. '...' end
  return e
end

-- A number for a table cell, '-' for none.
local function fnum(v, fmt)
  if type(v) ~= 'number' then return v ~= nil and tostring(v) or '-' end
  if v ~= v then return 'nan' end
  return string.format(fmt, v)
end

-- The metric columns to show: the usual ones that some run has, and the main metric.
local function metric_columns(results, metric)
  local cols = {}
  for _, c in ipairs{'train_loss', 'train_acc', 'test_acc', 'valid_acc'} do
    for _, res in ipairs(results) do
      if res.final[c] ~= nil or c == metric then cols[#cols + 1] = c break end
    end
  end
  local has = false
  for _, c in ipairs(cols) do if c == metric then has = true end end
  if not has then cols[#cols + 1] = metric end
  return cols
end

-- A run by its values: "lr=0.1 batch_size=128 seed=2".
function report.describe(r, names)
  local parts = {}
  for _, n in ipairs(names) do parts[#parts + 1] = n .. '=' .. r.values[n] end
  if r.seed then parts[#parts + 1] = 'seed=' .. r.seed end
  return table.concat(parts, ' ')
end

-- The line printed as a run ends: "[3/8] lr=0.3  test_acc 0.8123  (12.5 s)", or its
-- status and error; res is the run's result row.
function report.progress(finished, total, r, exit, res, ctx)
  local m = ctx.metric or res.metric
  local v = res.final[m]
  local what
  if exit.status == 'ok' then
    what = string.format('%s %s', m, fnum(v, '%.4f'))
  else
    what = string.format('%s: %s', exit.status:upper(), report.short_error(exit.error, 100))
  end
  return string.format('[%d/%d] %s  %s  (%.1f s)', finished, total, report.describe(r, ctx.names), what,
                       exit.seconds or 0)
end

-- The table of results, ranked (see luacnn.sweep.results), one row per run.
function report.print_table(results, ctx)
  local mcols = metric_columns(results, ctx.metric)
  local header = {}
  for _, n in ipairs(ctx.names) do header[#header + 1] = n end
  if ctx.seeds then header[#header + 1] = 'seed' end
  local pretty = {train_loss = 'train loss', train_acc = 'train acc', test_acc = 'test acc',
                  valid_acc = 'valid acc'}
  for _, c in ipairs(mcols) do header[#header + 1] = pretty[c] or c end
  header[#header + 1] = 'ex/s'
  header[#header + 1] = 'time (s)'
  header[#header + 1] = 'status'
  local rows = {}
  for _, res in ipairs(results) do
    local row = {}
    for _, n in ipairs(ctx.names) do row[#row + 1] = res.values[n] end
    if ctx.seeds then row[#row + 1] = tostring(res.seed or '') end
    for _, c in ipairs(mcols) do row[#row + 1] = fnum(res.final[c], c:find('loss') and '%.4f' or '%.4f') end
    row[#row + 1] = fnum(res.final.examples_per_sec, '%.1f')
    row[#row + 1] = fnum(res.seconds, '%.1f')
    local status = res.status
    if res.status ~= 'ok' and res.error then status = status .. ': ' .. report.short_error(res.error, 70) end
    row[#row + 1] = status
    rows[#rows + 1] = row
  end
  return report.format_table(header, rows)
end

-- results.csv: the same rows with all their numbers, the error and the folder of each run.
function report.write_results(path, results, ctx)
  local mcols = metric_columns(results, ctx.metric)
  local cols = {'rank', 'run', 'status'}
  for _, n in ipairs(ctx.names) do cols[#cols + 1] = n end
  if ctx.seeds then cols[#cols + 1] = 'seed' end
  cols[#cols + 1] = 'epochs'
  for _, c in ipairs(mcols) do cols[#cols + 1] = c end
  cols[#cols + 1] = 'examples_per_sec'
  cols[#cols + 1] = 'seconds'
  cols[#cols + 1] = 'error'
  cols[#cols + 1] = 'dir'
  local rows = {}
  for rank, res in ipairs(results) do
    local row = {rank = rank, run = res.name, status = res.status, seed = res.seed,
                 epochs = res.epochs or res.final.epoch, examples_per_sec = res.final.examples_per_sec,
                 seconds = res.seconds, error = res.error, dir = res.dir}
    for _, n in ipairs(ctx.names) do
      local v = res.values[n]
      row[n] = tonumber(v) or v
    end
    for _, c in ipairs(mcols) do row[c] = res.final[c] end
    rows[#rows + 1] = row
  end
  return run.write_csv(path, cols, rows)
end

-- Positive numbers spread evenly in log space (0.1, 0.3, 0.9 or 1e-3 .. 1) read best on a
-- log axis.
local function looks_log(xs, spec)
  if spec and (spec.kind == 'log' or spec.kind == 'logint') then return true end
  if spec and (spec.kind == 'lin' or spec.kind == 'int') then return false end
  local v = {}
  for _, x in ipairs(xs) do
    if x <= 0 then return false end
    v[#v + 1] = x
  end
  table.sort(v)
  if #v < 3 then return #v == 2 and v[2] / v[1] >= 10 end
  if v[#v] / v[1] >= 100 then return true end
  local ratios = {}
  for i = 2, #v do ratios[#ratios + 1] = v[i] / v[i - 1] end
  local lo, hi = math.huge, 0
  for _, r in ipairs(ratios) do lo, hi = math.min(lo, r), math.max(hi, r) end
  return lo >= 1.8 and hi / lo <= 1.6
end

local function mean(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return s / #t
end

-- One chart per swept setting: the metric against the setting, one line per value of the
-- other setting when there is exactly one other (a 2-D grid), points otherwise.
function report.plot_results(results, ctx)
  local plot = require 'luacnn.plot'
  if not plot.available() then return {} end
  local ok_runs = {}
  for _, res in ipairs(results) do
    if res.status == 'ok' and type(res.value) == 'number' and res.value == res.value then
      ok_runs[#ok_runs + 1] = res
    end
  end
  -- plan order, so that categories and legends follow the grid, not the ranking
  table.sort(ok_runs, function(a, b) return a.index < b.index end)
  local paths = {}
  if #ok_runs == 0 then return paths end
  local random_spec = {}
  for _, r in ipairs(ctx.random_specs or {}) do random_spec[r.name] = r end
  for _, name in ipairs(ctx.names) do
    -- x positions: numbers, or categories in order of first appearance
    local numeric, cats, catpos = true, {}, {}
    for _, res in ipairs(ok_runs) do
      local v = res.values[name]
      if tonumber(v) == nil then numeric = false end
      if not catpos[v] then cats[#cats + 1] = v; catpos[v] = #cats end
    end
    local function xpos(v) return numeric and tonumber(v) or catpos[v] end
    local xs, xseen = {}, {}
    for _, res in ipairs(ok_runs) do
      local x = xpos(res.values[name])
      if not xseen[x] then xseen[x] = true; xs[#xs + 1] = x end
    end
    local xlog = numeric and looks_log(xs, random_spec[name])
    -- group by the other swept settings
    local others = {}
    for _, n2 in ipairs(ctx.names) do if n2 ~= name then others[#others + 1] = n2 end end
    local groups, order = {}, {}
    local is_grid = not ctx.random
    for _, res in ipairs(ok_runs) do
      local key = {}
      for _, n2 in ipairs(others) do key[#key + 1] = n2 .. '=' .. res.values[n2] end
      local k = (is_grid and #others > 0) and table.concat(key, ' ') or ''
      if not groups[k] then groups[k] = {}; order[#order + 1] = k end
      table.insert(groups[k], res)
      groups[k].first = math.min(groups[k].first or math.huge, res.index)
    end
    -- legend in the order of the plan (the grid's order of values), not of the ranking
    table.sort(order, function(a, b) return groups[a].first < groups[b].first end)
    local series = {}
    local as_lines = is_grid and #order <= 8
    for gi, k in ipairs(order) do
      local color = plot.palette(gi)
      local by_x, xorder = {}, {}
      for _, res in ipairs(groups[k]) do
        local x = xpos(res.values[name])
        if not by_x[x] then by_x[x] = {}; xorder[#xorder + 1] = x end
        table.insert(by_x[x], res.value)
      end
      table.sort(xorder)
      if as_lines then
        local X, Y = {}, {}
        for i, x in ipairs(xorder) do X[i] = x; Y[i] = mean(by_x[x]) end
        local label = k ~= '' and k or ctx.metric
        if ctx.seeds and #ctx.seeds > 1 then label = label .. ' (mean of ' .. #ctx.seeds .. ' seeds)' end
        series[#series + 1] = {name = label, x = X, y = Y, color = color, marker = 'circle'}
        if ctx.seeds and #ctx.seeds > 1 then
          local PX, PY = {}, {}
          for _, x in ipairs(xorder) do
            for _, v in ipairs(by_x[x]) do PX[#PX + 1] = x; PY[#PY + 1] = v end
          end
          series[#series + 1] = {x = PX, y = PY, color = color, dash = 'none', alpha = 0.35}
        end
      else
        local PX, PY = {}, {}
        for _, x in ipairs(xorder) do
          for _, v in ipairs(by_x[x]) do PX[#PX + 1] = x; PY[#PY + 1] = v end
        end
        series[#series + 1] = {name = #order > 1 and k or nil, x = PX, y = PY, color = color,
                               dash = 'none', marker = 'circle'}
      end
    end
    local path = string.format('%s/%s_vs_%s.png', ctx.dir, plan.sanitize(ctx.metric), plan.sanitize(name))
    local ok, err = pcall(plot.lines, {
      path = path, series = series, xlog = xlog, xlabel = name, ylabel = ctx.metric,
      title = string.format('%s: %s vs %s (%d runs)', ctx.script_name, ctx.metric, name, #ok_runs),
      xticklabels = not numeric and cats or nil,
    })
    if ok then paths[#paths + 1] = path
    else io.stderr:write('sweep: cannot draw ', path, ': ', tostring(err), '\n') end
  end
  return paths
end

return report

-- `luacnn compare RUN_DIR RUN_DIR ... [--out PATH] [--metric NAME]`: the settings in which
-- the runs differ and their final metrics side by side, and their curves overlaid in one
-- PNG (train loss, train acc and the main metric against epoch, one colour per run).
-- A sweep folder given as an argument stands for all of its runs.
--
--   luacnn compare runs/lenet-20261128-101500 runs/lenet-20261128-103000
--   luacnn compare runs/sweep-lenet-20261128-110000 --out lr.png
local run = require 'luacnn.run'
local command = require 'luacnn.sweep.command'
local report = require 'luacnn.sweep.report'

local compare = {}

local function errorf(fmt, ...)
  command.usage_error('compare', fmt, ...)
end

local say = command.say

function compare.parse_cli(argv)
  local o = {dirs = {}}
  local i = 1
  while i <= #argv do
    local w = argv[i]
    local flag, inline = w:match('^%-%-([%w_%-]+)=(.*)$')
    flag = flag or w:match('^%-%-([%w_%-]+)$')
    if flag then
      flag = flag:gsub('%-', '_')
      local function value()
        if inline then return inline end
        i = i + 1
        if argv[i] == nil then errorf('--%s needs a value', flag) end
        return argv[i]
      end
      if flag == 'out' then o.out = value()
      elseif flag == 'metric' then o.metric = value()
      elseif flag == 'help' then o.help = true
      else errorf('unknown option --%s (compare takes --out PATH and --metric NAME)', flag) end
    else
      o.dirs[#o.dirs + 1] = w
    end
    i = i + 1
  end
  return o
end

-- Run folders from the arguments: a sweep folder expands into its runs, in plan order.
function compare.expand(dirs)
  local out = {}
  for _, d in ipairs(dirs) do
    d = d:gsub('/+$', '')
    local plan = run.read_json(d .. '/sweep.json')
    if plan and plan.runs then
      for _, r in ipairs(plan.runs) do
        if run.is_dir(d .. '/' .. r.name) then out[#out + 1] = d .. '/' .. r.name end
      end
    else
      out[#out + 1] = d
    end
  end
  return out
end

-- Short distinct labels: the folder names, or longer path tails where those repeat.
function compare.labels(dirs)
  local parts = {}
  for i, d in ipairs(dirs) do
    parts[i] = {}
    for p in d:gmatch('[^/]+') do table.insert(parts[i], p) end
  end
  local depth = 1
  while true do
    local labels, seen, dup = {}, {}, false
    for i, p in ipairs(parts) do
      local from = math.max(1, #p - depth + 1)
      labels[i] = table.concat(p, '/', from, #p)
      if seen[labels[i]] then dup = true end
      seen[labels[i]] = true
    end
    if not dup or depth > 8 then return labels end
    depth = depth + 1
  end
end

local function show(v)
  if v == nil then return '-' end
  if type(v) == 'table' then return require('luacnn.json').encode(v) end
  if math.type(v) == 'float' then return (string.format('%.6g', v)) end
  return tostring(v)
end

-- Settings whose values are not all equal, and those that are.
function compare.diff_settings(runs)
  local keys, seen = {}, {}
  for _, r in ipairs(runs) do
    for k in pairs(r.config and r.config.settings or {}) do
      if not seen[k] and k ~= 'run_dir' then seen[k] = true; keys[#keys + 1] = k end
    end
  end
  table.sort(keys)
  local differ, same = {}, {}
  for _, k in ipairs(keys) do
    local first, all_same = nil, true
    for i, r in ipairs(runs) do
      local v = show((r.config and r.config.settings or {})[k])
      if i == 1 then first = v elseif v ~= first then all_same = false end
    end
    if all_same then same[#same + 1] = k .. '=' .. first else differ[#differ + 1] = k end
  end
  return differ, same
end

local function metric_of(r, wanted)
  if wanted then return wanted end
  if r.summary and r.summary.metric then return r.summary.metric end
  local last = r.rows[#r.rows] or {}
  if last.test_acc == nil and last.valid_acc ~= nil then return 'valid_acc' end
  return 'test_acc'
end

local function final_of(r)
  return (r.summary and r.summary.final) or r.rows[#r.rows] or {}
end

-- --metric must name a quantity some run recorded: an unknown one is an error naming the
-- nearest (test_accc -> test_acc) and what the runs have.
function compare.check_metric(metric, runs)
  local seen, names = {}, {}
  local function add(k)
    if type(k) == 'string' and k ~= 'epoch' and not seen[k] then seen[k] = true; names[#names + 1] = k end
  end
  for _, r in ipairs(runs) do
    for _, row in ipairs(r.rows or {}) do for k in pairs(row) do add(k) end end
    for k in pairs(final_of(r)) do add(k) end
    if r.summary and r.summary.metric then add(r.summary.metric) end
  end
  if seen[metric] then return end
  table.sort(names)
  local guess = require('luacnn.suggest').nearest(metric, names)
  errorf("unknown metric '%s'%s (the runs recorded: %s)", metric,
         guess and (" (did you mean '" .. guess .. "'?)") or '', table.concat(names, ', '))
end

local function fnum(v, fmt)
  if type(v) ~= 'number' then return v == nil and '-' or tostring(v) end
  return string.format(fmt, v)
end

function compare.table_text(runs, labels, metric)
  local differ = compare.diff_settings(runs)
  local header = {'run'}
  for _, k in ipairs(differ) do header[#header + 1] = k end
  -- 'epochs done': a swept or differing `epochs` setting (the planned count) has a column too
  for _, h in ipairs{'epochs done', 'train loss', 'train acc', (metric:gsub('_', ' ')), 'best (epoch)',
                     'ex/s', 'time (s)', 'status'} do
    header[#header + 1] = h
  end
  local rows = {}
  for i, r in ipairs(runs) do
    local f = final_of(r)
    local s = r.summary or {}
    local row = {labels[i]}
    for _, k in ipairs(differ) do row[#row + 1] = show((r.config and r.config.settings or {})[k]) end
    row[#row + 1] = tostring(s.epochs or #r.rows)
    row[#row + 1] = fnum(f.train_loss, '%.4f')
    row[#row + 1] = fnum(f.train_acc, '%.4f')
    row[#row + 1] = fnum(f[metric], '%.4f')
    local best = s.best and s.metric == metric and s.best or nil
    if not best then
      for _, row2 in ipairs(r.rows) do
        local v = row2[metric]
        if type(v) == 'number' and (not best or v > best.value) then best = {epoch = row2.epoch, value = v} end
      end
    end
    row[#row + 1] = best and string.format('%.4f (%s)', best.value, tostring(best.epoch)) or '-'
    row[#row + 1] = fnum(f.examples_per_sec, '%.1f')
    row[#row + 1] = fnum(s.seconds or f.seconds, '%.1f')
    local status = s.status or '-'
    if s.error then status = status .. ': ' .. report.short_error(s.error, 70) end
    row[#row + 1] = status
    rows[i] = row
  end
  return report.format_table(header, rows)
end

-- The overlay: one panel per quantity, one colour per run, the legend on the last panel.
function compare.plot(runs, labels, metric, path)
  local plot = require 'luacnn.plot'
  local ok, why = plot.available()
  if not ok then return nil, why end
  local quantities = {{'train_loss', 'train loss'}, {'train_acc', 'train acc'}}
  if metric ~= 'train_loss' and metric ~= 'train_acc' then
    quantities[#quantities + 1] = {metric, (metric:gsub('_', ' '))}
  end
  local panels = {}
  for qi, q in ipairs(quantities) do
    local series = {}
    for i, r in ipairs(runs) do
      local x, y, any = {}, {}, false
      for j, row in ipairs(r.rows) do
        x[j] = tonumber(row.epoch) or j
        local v = row[q[1]]
        if type(v) == 'number' then any = true else v = 0 / 0 end
        y[j] = v
      end
      if any then
        -- past ten runs the colours repeat, so the line style changes
        local dashes = {'solid', 'dashed', 'dotted', 'dashdot'}
        series[#series + 1] = {name = qi == #quantities and labels[i] or nil, x = x, y = y,
                               color = plot.palette(i), dash = dashes[((i - 1) // 10) % 4 + 1],
                               marker = #r.rows <= 1 and 'circle' or nil}
      end
    end
    panels[#panels + 1] = {title = q[2], xlabel = 'epoch', series = series,
                           legend = qi == #quantities and 'outside' or 'none'}
  end
  return plot.figure{path = path, panels = panels, cols = #panels, width = 1600, height = 520,
                     title = string.format('%d runs compared', #runs)}
end

local function main(argv)
  local o = compare.parse_cli(argv)
  if o.help or #o.dirs == 0 then
    say('usage: luacnn compare RUN_DIR [RUN_DIR ...] [--out PATH] [--metric NAME]')
    say('  prints the settings that differ and the final metrics of each run, and overlays')
    say('  their curves in one PNG (default runs/compare-<time>.png). A sweep folder stands')
    say('  for all of its runs.')
    return o.help and 0 or 2
  end
  local dirs = compare.expand(o.dirs)
  local runs = {}
  for i, d in ipairs(dirs) do
    local ok, r = pcall(run.load, d)
    if not ok then errorf('%s', tostring(r)) end
    runs[i] = r
  end
  local labels = compare.labels(dirs)
  if o.metric then compare.check_metric(o.metric, runs) end
  local metric = o.metric or metric_of(runs[1])
  local differ, same = compare.diff_settings(runs)
  say(compare.table_text(runs, labels, metric))
  if #same > 0 then say('\nsame in all: ' .. table.concat(same, ' ')) end
  if #differ == 0 and #runs > 1 then say('(the runs have the same settings)') end
  local out = o.out
  if not out then
    run.mkdir('runs')
    out = string.format('runs/compare-%s.png', run.timestamp())
  end
  local path, why = compare.plot(runs, labels, metric, out)
  if path then say('curves: ' .. path) else say('no curves drawn: ' .. tostring(why)) end
  return 0
end

-- Entry point for `luacnn compare ...`: returns the exit status (0 ok, 2 bad usage).
function compare.main(argv)
  return command.main('compare', main, argv)
end

return compare

-- The results of a sweep: one row per run, read from its folder (exit.json, summary.json,
-- metrics.csv), and all the rows ranked by the main metric, best first.
local run = require 'luacnn.run'

local results = {}

-- Result row of one run from its folder (summary.json, metrics.csv, exit.json).
function results.collect(r, metric)
  local res = {index = r.index, name = r.name, dir = r.dir, values = r.values, seed = r.seed}
  local exit = run.read_json(r.dir .. '/exit.json')
  res.status = exit and exit.status or 'pending'
  res.error = exit and exit.error or nil
  res.seconds = exit and exit.seconds or nil
  local summary = run.read_json(r.dir .. '/summary.json')
  if not exit and summary and summary.status == 'interrupted' then res.status = 'interrupted' end
  local final = summary and summary.final or nil
  if not final then
    local rows = run.read_csv(r.dir .. '/metrics.csv')
    final = rows and rows[#rows] or nil
  end
  res.final = final or {}
  res.summary = summary
  local m = metric or (summary and summary.metric) or 'test_acc'
  res.metric = m
  res.value = res.final[m]
  if res.value == nil and summary and summary.metric == m then res.value = summary.value end
  if summary then
    res.higher_is_better = summary.higher_is_better
    res.seconds = summary.seconds or res.seconds
    res.epochs = summary.epochs
  end
  return res
end

-- Order of the ranking: finished runs with a number first, best value first, then plan order.
local function better(higher)
  return function(a, b)
    local ao, bo = a.status == 'ok' and type(a.value) == 'number', b.status == 'ok' and type(b.value) == 'number'
    if ao ~= bo then return ao end
    if ao and a.value ~= b.value then
      if higher then return a.value > b.value end
      return a.value < b.value
    end
    return a.index < b.index
  end
end


-- The rows of all the runs, ranked. Settles ctx.metric (the runs' own main metric, else
-- test_acc) and ctx.higher_is_better (the runs' word, else guessed from the metric's name)
-- where the command line left them open.
function results.ranked(runs, ctx)
  local res = {}
  for _, r in ipairs(runs) do res[#res + 1] = results.collect(r, ctx.metric) end
  if not ctx.metric then
    for _, x in ipairs(res) do
      if x.status == 'ok' and x.summary and x.summary.metric then ctx.metric = x.summary.metric break end
    end
    ctx.metric = ctx.metric or 'test_acc'
    for _, x in ipairs(res) do
      if x.value == nil then x.value = x.final[ctx.metric] end
    end
  end
  if ctx.higher_is_better == nil then
    for _, x in ipairs(res) do
      if x.higher_is_better ~= nil then ctx.higher_is_better = x.higher_is_better break end
    end
    if ctx.higher_is_better == nil then
      ctx.higher_is_better = not (ctx.metric:find('loss') or ctx.metric:find('err'))
    end
  end
  table.sort(res, better(ctx.higher_is_better))
  return res
end

return results

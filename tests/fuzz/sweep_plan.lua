-- Fuzz target: the sweep plan. The input is a `luacnn sweep` command line (words split at NUL
-- or newline bytes, the script name put first) parsed and planned as `luacnn sweep` does, or,
-- when it starts with '{', a stored sweep.json read back as a resume reads it. Allowed: a
-- plan whose runs have distinct names and folders, or a usage error ({sweep_error = ...}).
local sweep = require 'luacnn.cli.sweep'
local plan = require 'luacnn.sweep.plan'
local json = require 'luacnn.json'
local C = require 'fuzz_common'

local function usage_error(e)
  return type(e) == 'table' and type(e.sweep_error) == 'string'
end

local function check_runs(runs)
  local seen = {}
  for _, r in ipairs(runs) do
    if type(r.name) ~= 'string' or seen[r.name] then error('UNCLEAN: duplicate or missing run name', 0) end
    seen[r.name] = true
  end
end

return function(bytes)
  if bytes:sub(1, 1) == '{' then
    local ok, stored = pcall(json.decode, bytes)
    if not ok then
      if type(stored) ~= 'string' then error('UNCLEAN: json error is not a string', 0) end
      return
    end
    local ok2, e = pcall(plan.stored_runs, stored, 'D')
    if not ok2 and not usage_error(e) then error('UNCLEAN: stored_runs: ' .. tostring(e), 0) end
    return
  end
  local argv = C.split(bytes, 32)
  table.insert(argv, 1, 's.lua')
  local ok, o = pcall(sweep.parse_cli, argv)
  if not ok then
    if usage_error(o) then return end
    error('UNCLEAN: parse_cli: ' .. tostring(o), 0)
  end
  local ok2, runs = pcall(sweep.plan, o, nil, 'D')
  if not ok2 then
    if usage_error(runs) then return end
    error('UNCLEAN: plan: ' .. tostring(runs), 0)
  end
  check_runs(runs)
end

-- "did you mean ...?" for misspelt names in lc, lc.nn, lc.F, lc.optim and tensor methods.
--
-- These tables do not grow at run time, so reading a name they do not have is an error at
-- the lookup, naming the nearest existing name: `lc.nn.Conv2D` raises
--   lc.nn has no field 'Conv2D' (did you mean 'Conv2d'?)
-- instead of a later "attempt to call a nil value". The candidates are the table's keys at
-- the time of the error (and, for lc, its lazily loaded submodules), so names added later
-- (lc.image, lc.models, ...) are found and suggested like the others.
--
-- Code that probes for an optional name uses rawget(t, name), or suggest.has(t, name).
local M = {}

-- Edit distance with transpositions (Damerau-Levenshtein, optimal string alignment).
local function distance(a, b)
  local la, lb = #a, #b
  local prev2, prev, cur = nil, {}, nil
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur = {[0] = i}
    for j = 1, lb do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if prev2 and i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, prev2[j - 2] + 1)
      end
      cur[j] = v
    end
    prev2, prev = prev, cur
  end
  return prev[lb]
end
M.distance = distance

-- The candidate nearest to name, or nil when none is close enough to be a likely typo.
-- A difference of case only (Conv2D / Conv2d) always wins.
function M.nearest(name, candidates)
  if type(name) ~= 'string' then return nil end
  local lower = name:lower()
  local best, bestd
  for _, c in ipairs(candidates) do
    local d
    if c:lower() == lower then d = 0
    else
      d = distance(lower, c:lower())
      if #name >= 3 and c:sub(1, #name):lower() == lower then d = math.min(d, 1) end  -- a prefix
    end
    if not bestd or d < bestd or (d == bestd and c < best) then best, bestd = c, d end
  end
  if best and bestd <= math.max(1, math.min(3, #name // 3)) then return best end
  return nil
end

-- The string keys of t (and of the extra tables), sorted.
function M.keys(t, ...)
  local seen, out = {}, {}
  local function add(tbl)
    if type(tbl) ~= 'table' then return end
    for k in pairs(tbl) do
      if type(k) == 'string' and not seen[k] and not k:match('^_') then
        seen[k] = true
        out[#out + 1] = k
      end
    end
  end
  add(t)
  for i = 1, select('#', ...) do add((select(i, ...))) end
  table.sort(out)
  return out
end

-- The error for a missing name: "<label> has no field 'x' (did you mean 'y'?)".
function M.message(label, name, candidates, noun)
  noun = noun or 'field'
  local guess = M.nearest(name, candidates)
  if guess then
    return string.format("%s has no %s '%s' (did you mean '%s'?)", label, noun, tostring(name), guess)
  end
  return string.format("%s has no %s '%s'", label, noun, tostring(name))
end

-- Makes reading a missing string key of t an error with a suggestion. `fallback(t, key)`,
-- when given, is asked first (lc's lazy submodules); a non-nil answer is returned.
-- extra() returns more candidate names. Non-string keys read as nil, as before.
function M.strict(t, label, fallback, extra)
  local mt = getmetatable(t)
  if mt == nil then
    mt = {}
    setmetatable(t, mt)
  end
  if rawget(mt, '__strict') then return t end
  mt.__strict = label
  mt.__index = function(self, key)
    if fallback then
      local v = fallback(self, key)
      if v ~= nil then return v end
    end
    if type(key) ~= 'string' then return nil end
    error(M.message(label, key, M.keys(self, extra and extra() or nil)), 2)
  end
  return t
end

-- Does t have the name, without raising for a missing one?
function M.has(t, name)
  local ok, v = pcall(function() return t[name] end)
  return ok and v ~= nil
end

return M

-- The optional arguments of layers, F functions, optimizers and schedulers: PyTorch's
-- positional order or an options table, and a misspelt option name is an error.
--
--   local conv_options = options.parser('Conv2d', {'in_channels', 'out_channels', 'kernel_size'},
--     {'stride', 'padding', 'dilation', 'groups', 'bias', 'padding_mode', 'device', 'dtype'},
--     {padding_mode = 'zeros'})
--   function Conv2d:init(in_channels, out_channels, kernel_size, ...)
--     local opts = conv_options(...)
--
-- Then nn.Conv2d(1, 6, 5, 1, 2), nn.Conv2d(1, 6, 5, {padding = 2}) and
-- nn.Conv2d(1, 6, 5, 1, {padding = 2}) all give opts = {stride = 1, padding = 2}, and
--   nn.Conv2d(1, 6, 5, {paddin = 2})   Conv2d: unknown option 'paddin' (did you mean 'padding'?)
--
-- The options table is the last argument: a plain table with string keys, or {} (the
-- defaults). A table of values only ({2, 1}, Adam's betas, milestones) is a positional
-- value, and so is a tensor. The named (hash) part of the names table lists options taken by
-- name only; unsupported maps an option luacnn lacks to the one value it accepts (PyTorch's
-- default). Errors are raised at level 0, as the layers' own: the traceback shows the line.
--
-- Functions that take only an options table (loaders, d2l.train_ch6, trainer.fit, run.start,
-- transforms, models, lc.load, net:summary, ...) check it with
--   opts = options.check('train_ch6', opts, {'max_batches', 'quiet', ...})
-- which refuses a misspelt key with the same message:
--   train_ch6: unknown option 'max_batch' (did you mean 'max_batches'?)
-- A function that passes its table on to another checks it once, with the names of both.
--
-- Requiring this and options.check never load the tensor library (luacnn.data and luacnn.run
-- check their options without it).
local suggest = require 'luacnn.suggest'

local options = {}

local function is_tensor(v)
  return require('luacnn').is_tensor(v)
end

-- Is v an options table rather than a positional value?
local function is_options(v)
  if type(v) ~= 'table' then return false end  -- tensors are userdata
  if #v == 0 then return not is_tensor(v) end
  for k in pairs(v) do
    if type(k) == 'string' then return true end
  end
  return false
end
options.is_options = is_options

local function show(v)
  return type(v) == 'string' and ("'" .. v .. "'") or tostring(v)
end

-- The message for the key k (value v) that is not among the sorted names valid.
local function unknown(who, k, v, valid)
  if type(k) ~= 'string' then
    return string.format('%s: the options table has an entry without a name ([%s] = %s); ' ..
                         'options are name = value, one of: %s', who, tostring(k), show(v),
                         table.concat(valid, ', '))
  end
  local guess = suggest.nearest(k, valid)
  if guess then
    return string.format("%s: unknown option '%s' (did you mean '%s'?)", who, k, guess)
  end
  return string.format("%s: unknown option '%s' (options: %s)", who, k,
                       #valid > 0 and table.concat(valid, ', ') or 'none')
end

-- names (a list, or a set name -> true) as a set and as a sorted list
local function name_set(names)
  local known = {}
  for k, v in pairs(names) do
    if type(k) == 'string' then known[k] = true else known[v] = true end
  end
  return known
end

-- options.check(who, opts, names [, level]) -> opts ({} for nil): every key of the table opts
-- must be one of names (a list, or a set name -> true), else the error names the nearest
-- ("who: unknown option 'paddin' (did you mean 'padding'?)") or lists them all. level is
-- error()'s, counted from the function calling check (2: its caller's line); default 0, no
-- position, as the layers' errors.
-- A size or count given as an option or argument: an integer, or a float with an exact integer
-- value such as 400/2 (Lua's C API takes those too, luaL_checkinteger); returned as an integer.
function options.positive_int(v, who, what)
  local i = math.type(v) == 'float' and math.tointeger(v) or v
  if math.type(i) ~= 'integer' or i < 1 then
    error(string.format('%s: %s must be a positive integer, got %s', who, what, tostring(v)), 0)
  end
  return i
end

function options.check(who, opts, names, level)
  level = level and level > 0 and level + 1 or 0
  if opts == nil then return {} end
  if type(opts) ~= 'table' then
    error(string.format('%s: expected an options table {name = value, ...}, got %s', who,
                        type(opts)), level)
  end
  local known
  for k, v in pairs(opts) do
    known = known or name_set(names)
    if not known[k] then error(unknown(who, k, v, suggest.keys(known)), level) end
  end
  return opts
end

-- A function (...) -> opts for `who`: `required` names the arguments before the optional
-- ones (for messages), `names` the optional ones in PyTorch's order (array part) and those
-- taken by name only (string keys, any value).
function options.parser(who, required, names, unsupported)
  local order, known = {}, {}
  for i, name in ipairs(names) do order[i], known[name] = name, true end
  for k in pairs(names) do
    if type(k) == 'string' then known[k] = true end
  end
  local valid = suggest.keys(known)
  local all = {}
  for _, name in ipairs(required) do all[#all + 1] = name end
  for _, name in ipairs(order) do all[#all + 1] = name end
  local signature = '(' .. table.concat(all, ', ') .. ')'
  unsupported = unsupported or {}

  return function(...)
    local args, n = {...}, select('#', ...)
    while n > 0 and args[n] == nil do n = n - 1 end
    local opts = {}
    if is_options(args[n]) then
      local last = args[n]
      for k, v in pairs(last) do
        if not known[k] then error(unknown(who, k, v, valid), 0) end
        opts[k] = v
      end
      n = n - 1
    end
    if n > #order then
      if #order == 0 then
        error(string.format('%s: too many arguments (%d given); %soptions go by name, in a ' ..
                            'last table {name = value} (%s)', who, #required + n,
                            #all > 0 and ('it takes ' .. signature .. ', then ') or '',
                            table.concat(valid, ', ')), 0)
      end
      error(string.format('%s: too many arguments (%d given); the order is %s, and options may ' ..
                          'follow as a last table {name = value}', who, #required + n, signature), 0)
    end
    for i = 1, n do
      local v, name = args[i], order[i]
      -- (a quick look: tables of list items are values, and the layers check those)
      if type(v) == 'table' and #v == 0 and not is_tensor(v) then
        error(string.format('%s: the options table must be the last argument (found one as ' ..
                            "argument %d, '%s'; the order is %s)", who, #required + i, name,
                            signature), 0)
      end
      if v ~= nil then
        if opts[name] ~= nil then
          error(string.format("%s: '%s' given twice, as argument %d and in the options table",
                              who, name, #required + i), 0)
        end
        opts[name] = v
      end
    end
    for name, only in pairs(unsupported) do
      if opts[name] ~= nil and opts[name] ~= only then
        error(string.format('%s: %s = %s is not supported (only %s)', who, name, show(opts[name]),
                            show(only)), 0)
      end
    end
    return opts
  end
end

return options

-- Script settings from the command line: `lc.args`.
--
--   local args = lc.args{
--     'Train LeNet on Fashion-MNIST.',                  -- optional description (for --help)
--     lr = 0.9,                                         -- number
--     epochs = 10,                                      -- integer (a default without a point)
--     batch_size = {256, help = 'examples per step'},   -- a default with help text
--     device = 'auto',                                  -- string
--     augment = false,                                  -- flag: --augment, --no-augment
--     optimizer = {'sgd', choices = {'sgd', 'adam'}, help = 'update rule'},
--     weight_decay = {type = 'number', help = 'L2 penalty (off when not given)'},  -- no default
--     epochs = {10, min = 1},                           -- bounds: min = / max = (inclusive),
--     lr = {0.1, positive = true},                      -- positive = true (> 0),
--     device = {'auto', check = function(v) ... end},   -- or a check returning nil | 'why'
--   }
--   print(args.lr, args.epochs)
--
-- Command line: `--lr 0.5`, `--lr=0.5`, `--batch-size 64` (dashes and underscores are the
-- same), `--augment` / `--no-augment` / `--augment=false`, `--help` (lists the settings with
-- their defaults and exits). A misspelt option, a missing or ill-typed value, or a value
-- outside its choices stops the script with a message naming the option and, for a
-- misspelling, the nearest valid name. Every script also takes:
--   --run_dir DIR   where luacnn.run writes this run's records (default runs/<script>-<time>)
--   --seed N        seeds Lua's math.random and, when luacnn is loaded, lc.manual_seed
--                   (without it luacnn's generator starts from a seed drawn from the OS,
--                   which lc.initial_seed() gives and run folders record)
-- (a script may declare them itself to give them a default).
--
-- The command line is the global `arg` (as the `lua` interpreter and luacnn set it), or an
-- explicit list: `lc.args(spec, {'--lr', '0.5'})` or `lc.args(spec, {argv = {...},
-- script = 'name', description = '...'})`.
-- The returned table holds the resolved settings; reading a setting that was never declared
-- is an error (so `args.lrr` is caught, not nil). `args.info(settings)` gives the script
-- name, the command line and which settings were given explicitly.
--
-- The settings of the script's lc.args call are also kept as `args.current`: luacnn.run
-- records them (and honours --run_dir) when a run is started without explicit settings,
-- as d2l.train_ch6 does.
--
-- For tests and tools: `args.parse(spec, argv, opts)` returns the settings or raises the
-- error message (and returns nil, usage_text for --help) instead of exiting.
local args = {}

local infos = setmetatable({}, {__mode = 'k'})

local builtin = {
  run_dir = {type = 'string', help = "folder for this run's records (default runs/<script>-<time>)",
             builtin = true},
  seed = {type = 'integer', builtin = true,
          help = "seed for the random generators (default: drawn from the OS; the run folder's " ..
                 'config.json records it, so --seed repeats a run)'},
}

local function basename(path)
  return (path:gsub('/+$', ''):match('([^/]+)$') or path)
end

function args.script_name(path)
  if not path or path == '' then return 'script' end
  return (basename(path):gsub('%.lua$', ''))
end

-- Edit distance with transpositions, to suggest the nearest option.
local function distance(a, b)
  local la, lb = #a, #b
  local d = {}
  for i = 0, la do d[i] = {[0] = i} end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:sub(i, i) == b:sub(j - 1, j - 1) and a:sub(i - 1, i - 1) == b:sub(j, j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end

-- The candidate closest to name, or nil when none is close enough to be a likely typo.
function args.suggest(name, candidates)
  local best, bestd
  for _, c in ipairs(candidates) do
    local dd = distance(name, c)
    if c:sub(1, #name) == name and #name >= 2 then dd = math.min(dd, 1) end   -- a prefix
    if not bestd or dd < bestd or (dd == bestd and c < best) then best, bestd = c, dd end
  end
  if best and bestd <= math.max(2, math.floor(#name / 3)) then return best end
  return nil
end

local function type_of_value(v)
  if math.type(v) == 'integer' then return 'integer' end
  local t = type(v)
  if t == 'number' or t == 'boolean' or t == 'string' then return t end
  return nil
end

local valid_types = {number = true, integer = true, boolean = true, string = true}

-- Normalise one declaration: plain default, or {default, help=, choices=, type=}.
local function declare(name, v)
  if type(name) ~= 'string' or not name:match('^[%a_][%w_]*$') then
    error(string.format("lc.args: setting names must be identifiers, got '%s'", tostring(name)), 4)
  end
  local d = {name = name}
  if type(v) == 'table' then
    d.default = v[1]
    if v.default ~= nil then d.default = v.default end
    d.help, d.choices, d.type = v.help, v.choices, v.type
    d.min, d.max, d.positive, d.check = v.min, v.max, v.positive, v.check
    if d.check ~= nil and type(d.check) ~= 'function' then
      error(string.format('lc.args: %s: check must be a function, got %s', name, type(d.check)), 4)
    end
    if d.choices ~= nil and (type(d.choices) ~= 'table' or #d.choices == 0) then
      error(string.format('lc.args: %s: choices must be a non-empty list', name), 4)
    end
  else
    d.default = v
  end
  d.type = d.type or type_of_value(d.default) or (d.choices and type_of_value(d.choices[1]))
  if not d.type then
    error(string.format('lc.args: %s: cannot tell its type from default %s; give {type = ...}',
                        name, tostring(d.default)), 4)
  end
  if not valid_types[d.type] then
    error(string.format("lc.args: %s: type must be 'number', 'integer', 'boolean' or 'string', got '%s'",
                        name, tostring(d.type)), 4)
  end
  if d.type == 'number' and math.type(d.default) == 'integer' then d.default = d.default + 0.0 end
  if d.type == 'integer' and d.default ~= nil and math.type(d.default) ~= 'integer' then
    error(string.format('lc.args: %s: integer setting with default %s', name, tostring(d.default)), 4)
  end
  if d.default ~= nil and d.type ~= 'number' and d.type ~= 'integer' and type(d.default) ~= d.type then
    error(string.format('lc.args: %s: default %s is not a %s', name, tostring(d.default), d.type), 4)
  end
  return d
end

-- spec -> {decls = {name = decl}, names = sorted list, description = text}
function args.declarations(spec)
  if type(spec) ~= 'table' then
    error('lc.args: expected a table of settings with their defaults, got ' .. type(spec), 3)
  end
  local decls, names, description = {}, {}, nil
  for k, v in pairs(spec) do
    if k == 1 and type(v) == 'string' then
      description = v
    elseif math.type(k) == 'integer' then
      error('lc.args: settings are written name = default; got a list entry ' .. tostring(v), 3)
    else
      decls[k] = declare(k, v)
    end
  end
  for name, b in pairs(builtin) do
    if not decls[name] then decls[name] = declare(name, b); decls[name].builtin = true end
  end
  for name in pairs(decls) do names[#names + 1] = name end
  table.sort(names)
  return {decls = decls, names = names, description = description}
end

local type_words = {number = 'a number', integer = 'an integer', string = 'a string',
                    boolean = 'true or false'}
local booleans = {['true'] = true, yes = true, on = true, ['1'] = true,
                  ['false'] = false, no = false, off = false, ['0'] = false}

-- Text from the command line -> value of the declared type, or nil and the reason.
function args.convert(d, text)
  local v
  if d.type == 'number' then
    v = tonumber(text)
    if v == nil or v ~= v then return nil, 'expects a number' end
    v = v + 0.0
  elseif d.type == 'integer' then
    v = tonumber(text)
    if v == nil then return nil, 'expects an integer' end
    v = math.tointeger(v)
    if v == nil then return nil, 'expects an integer' end
  elseif d.type == 'boolean' then
    v = booleans[text:lower()]
    if v == nil then return nil, 'expects true or false' end
  else
    v = text
  end
  if d.choices then
    local ok = false
    for _, c in ipairs(d.choices) do
      if c == v then ok = true end
    end
    if not ok then
      local list = {}
      for i, c in ipairs(d.choices) do list[i] = tostring(c) end
      return nil, 'must be one of ' .. table.concat(list, ', ')
    end
  end
  if type(v) == 'number' then
    if d.positive and not (v > 0) then return nil, 'must be positive' end
    if d.min and v < d.min then return nil, 'must be at least ' .. tostring(d.min) end
    if d.max and v > d.max then return nil, 'must be at most ' .. tostring(d.max) end
  end
  if d.check then
    local why = d.check(v)
    if why then return nil, why, true end
  end
  return v
end

local function show(v)
  if v == nil then return '(none)' end
  if type(v) == 'string' then return v == '' and "''" or v end
  return tostring(v)
end

function args.usage(spec, opts)
  opts = opts or {}
  local D = spec.decls and spec or args.declarations(spec)
  local script = opts.script or 'script'
  local lines = {string.format('usage: luacnn %s.lua [options]', script)}
  local description = opts.description or D.description
  if description then lines[#lines + 1] = ''; lines[#lines + 1] = description end
  local function rows_of(want_builtin)
    local rows = {}
    for _, name in ipairs(D.names) do
      local d = D.decls[name]
      if (d.builtin or false) == want_builtin then
        local left
        if d.type == 'boolean' then left = '--[no-]' .. name
        elseif d.choices then
          local list = {}
          for i, c in ipairs(d.choices) do list[i] = tostring(c) end
          left = '--' .. name .. ' {' .. table.concat(list, ',') .. '}'
        else
          left = '--' .. name .. ' ' .. ({number = 'X', integer = 'N', string = 'S'})[d.type]
        end
        local right = {}
        if d.help then right[#right + 1] = d.help end
        if not d.builtin then
          local t = d.type == 'boolean' and 'flag' or d.type
          if d.default == nil then right[#right + 1] = string.format('(%s, no default)', t)
          else
            local dflt = d.type == 'boolean' and (d.default and 'on' or 'off') or show(d.default)
            right[#right + 1] = string.format('(%s, default %s)', t, dflt)
          end
        end
        rows[#rows + 1] = {left, table.concat(right, ' ')}
      end
    end
    if want_builtin then rows[#rows + 1] = {'--help', 'show this help and exit'} end
    return rows
  end
  local sections = {{'settings:', rows_of(false)}, {'common:', rows_of(true)}}
  local w = 0
  for _, sec in ipairs(sections) do
    for _, r in ipairs(sec[2]) do w = math.max(w, #r[1]) end
  end
  for _, sec in ipairs(sections) do
    if #sec[2] > 0 then
      lines[#lines + 1] = ''
      lines[#lines + 1] = sec[1]
      for _, r in ipairs(sec[2]) do
        lines[#lines + 1] = (string.format('  %-' .. w .. 's  %s', r[1], r[2]):gsub('%s+$', ''))
      end
    end
  end
  return table.concat(lines, '\n')
end

local function unknown_option(D, name)
  local cands = {}
  for _, n in ipairs(D.names) do cands[#cands + 1] = n end
  local guess = args.suggest(name, cands)
  if guess then
    return string.format('unknown option --%s (did you mean --%s?)', name, guess)
  end
  local list = {}
  for _, n in ipairs(D.names) do list[#list + 1] = '--' .. n end
  return string.format('unknown option --%s (valid options: %s)', name, table.concat(list, ', '))
end

local function strict(settings, D)
  return setmetatable(settings, {
    __index = function(_, k)
      if type(k) == 'string' and D.decls[k] then return nil end
      local guess = type(k) == 'string' and args.suggest(k, D.names)
      error(string.format("lc.args: no setting '%s' was declared%s", tostring(k),
                          guess and (" (did you mean '" .. guess .. "'?)") or ''), 2)
    end,
    __name = 'luacnn.settings',
  })
end

-- Parse argv against spec. Returns settings, or nil and the usage text for --help; raises
-- the message (without position) on a bad command line.
function args.parse(spec, argv, opts)
  opts = opts or {}
  local D = spec.decls and spec or args.declarations(spec)
  argv = argv or {}
  local settings, explicit = {}, {}
  for _, name in ipairs(D.names) do settings[name] = D.decls[name].default end
  local i = 1
  while i <= #argv do
    local word = tostring(argv[i])
    if word == '--help' or word == '-h' then
      return nil, args.usage(D, opts)
    end
    if word == '--' then
      if argv[i + 1] then error(string.format("unexpected argument '%s'", argv[i + 1]), 0) end
      break
    end
    local body = word:match('^%-%-(.+)$')
    if not body then
      if word:match('^%-%a') then
        error(string.format("unknown option %s (options are written --name value)", word), 0)
      end
      error(string.format("unexpected argument '%s' (settings are written --name value)", word), 0)
    end
    local name, value = body:match('^([^=]+)=(.*)$')
    name = (name or body):gsub('%-', '_')
    local d = D.decls[name]
    local negated = false
    if not d and name:sub(1, 3) == 'no_' and D.decls[name:sub(4)] and
       D.decls[name:sub(4)].type == 'boolean' then
      d, negated = D.decls[name:sub(4)], true
      if value ~= nil then
        error(string.format('option --no-%s takes no value', d.name), 0)
      end
    end
    if not d then error(unknown_option(D, name), 0) end
    i = i + 1
    if d.type == 'boolean' and value == nil then
      local nxt = argv[i]
      if nxt ~= nil and booleans[tostring(nxt):lower()] ~= nil and not negated then
        value = nxt            -- `--flag false`
        i = i + 1
      else
        value = negated and 'false' or 'true'
      end
    elseif value == nil then
      value = argv[i] ~= nil and tostring(argv[i]) or nil
      if value == nil or (value:match('^%-%-') and not tonumber(value)) then
        error(string.format('option --%s needs a value (%s)', d.name, type_words[d.type]), 0)
      end
      i = i + 1
    end
    local v, why, own = args.convert(d, value)
    if v == nil and own then
      error(string.format('option --%s %s: %s', d.name, value, why), 0)
    elseif v == nil then
      error(string.format("option --%s %s, got '%s'", d.name, why, value), 0)
    end
    settings[d.name] = v
    explicit[d.name] = true
  end
  strict(settings, D)
  infos[settings] = {script = opts.script, argv = argv, explicit = explicit, declarations = D}
  return settings
end

-- What parse knew: {script =, argv =, explicit = {name = true}, declarations =}.
function args.info(settings)
  return infos[settings]
end

-- The declarations as plain data (for `luacnn sweep`, which checks names and types).
function args.describe(spec, opts)
  local D = spec.decls and spec or args.declarations(spec)
  local out = {script = opts and opts.script, options = {}}
  for _, name in ipairs(D.names) do
    local d = D.decls[name]
    out.options[name] = {type = d.type, default = d.default, help = d.help, choices = d.choices,
                         builtin = d.builtin or nil, min = d.min, max = d.max,
                         positive = d.positive or nil}
  end
  return out
end

local function is_list(t)
  return t[1] ~= nil or next(t) == nil
end

-- lc.args(spec [, argv | opts]): parse the command line; print help or the error and exit.
local function call(_, spec, second)
  local opts = {}
  if type(second) == 'table' then
    if is_list(second) then opts.argv = second else opts = second end
  elseif second ~= nil then
    error('lc.args: the second argument must be a list of words or an options table', 2)
  end
  local argv = opts.argv
  local cli_arg = rawget(_G, 'arg')
  if argv == nil then
    argv = {}
    if type(cli_arg) == 'table' then
      for i = 1, #cli_arg do argv[i] = cli_arg[i] end
    end
  end
  local popts = {script = opts.script or args.script_name(type(cli_arg) == 'table' and cli_arg[0] or nil),
                 description = opts.description}
  local D = args.declarations(spec)
  for _, w in ipairs(argv) do
    if w == '--args-json' then   -- for `luacnn sweep`: the declarations, then stop
      io.stdout:write(require('luacnn.json').encode(args.describe(D, popts)), '\n')
      io.stdout:flush()
      os.exit(0)
    end
  end
  local ok, settings, usage = pcall(args.parse, D, argv, popts)
  if not ok then
    io.stderr:write(popts.script, ': ', tostring(settings), '\n',
                    '(run with --help to list the settings)\n')
    io.stderr:flush()
    os.exit(2)
  end
  if settings == nil then
    io.stdout:write(usage, '\n')
    io.stdout:flush()
    os.exit(0)
  end
  args.current = settings      -- the script's settings, for luacnn.run (and so train_ch6)
  if settings.seed ~= nil then
    math.randomseed(settings.seed)
    local lc = package.loaded['luacnn']
    if type(lc) == 'table' and type(lc.manual_seed) == 'function' then lc.manual_seed(settings.seed) end
  end
  return settings
end

return setmetatable(args, {__call = call})

-- Where data lives: the per-user cache, the directories searched for a data set, and the
-- lookup of its files (plain Lua: `luacnn data` uses them without touching tensors).
local shared = require('luacnn.data.shared')
local data = shared.data
local file_exists = shared.file_exists

-- The per-user cache: $XDG_CACHE_HOME/luacnn, else ~/.cache/luacnn.
function data.cache_dir()
  local xdg = os.getenv('XDG_CACHE_HOME')
  if xdg and xdg ~= '' then return xdg .. '/luacnn' end
  local home = os.getenv('HOME')
  if home and home ~= '' then return home .. '/.cache/luacnn' end
  return nil
end

-- The directories searched for data set `name` when no root is given, in order, each as
-- {dir = ..., why = 'how it was chosen'}: $LUACNN_DATA/<name>, the per-user cache, then
-- ../shared/data/<name> next to the source tree (as the README says), found from the
-- luacnn executable's lib/ folder and from this file's own place (lib/luacnn/data/locate.lua), so
-- `luacnn scripts/lenet.lua` finds the data from any working directory without settings.
function data.search_dirs(name)
  local dirs, seen = {}, {}
  local function add(dir, why)
    if dir and not seen[dir] then
      seen[dir] = true
      dirs[#dirs + 1] = {dir = dir, why = why}
    end
  end
  local env = os.getenv('LUACNN_DATA')
  if env and env ~= '' then add(env .. '/' .. name, '$LUACNN_DATA/' .. name) end
  local cache = data.cache_dir()
  if cache then add(cache .. '/' .. name, 'the per-user cache') end
  -- <root>/lib -> <root>/../shared/data; lexically, so a folder that is not there is
  -- still listed (the message of a failed search then names it)
  local function shared_from_lib(lib)
    if type(lib) ~= 'string' or lib == '' then return nil end
    lib = lib:gsub('/+$', '')
    local root = lib:match('^(.*)/lib$')
    if not root then return nil end
    local parent = root:match('^(.*)/[^/]+$')
    if not parent then return nil end
    return (parent == '' and '' or parent) .. '/shared/data/' .. name
  end
  local ok, host = pcall(require, 'luacnn.host')
  if ok and type(host) == 'table' then
    add(shared_from_lib(host.lib), '../shared/data next to the source tree')
  end
  local source = debug.getinfo(1, 'S').source
  local here = source:match('^@(.*)/luacnn/data/[^/]*$')
  if here then
    if here:sub(1, 1) ~= '/' then
      local pwd = os.getenv('PWD')
      if pwd then here = pwd .. '/' .. here:gsub('^%./', '') end
    end
    if here:sub(1, 1) == '/' then
      add(shared_from_lib(here), '../shared/data next to the source tree')
    end
  end
  return dirs
end

-- The path of one file of a data set in dir: the .gz name, or the same file uncompressed.
local function find_file(dir, gz_name)
  local path = dir .. '/' .. gz_name
  if file_exists(path) then return path end
  local raw = dir .. '/' .. gz_name:gsub('%.gz$', '')
  if file_exists(raw) then return raw end
  return nil
end

-- Looks for every file of data set `name`. Returns the directory and a table of paths by
-- file name; or nil and a message that says where it looked, what was missing and how to get
-- the data. root (optional) is the directory holding the files, or one with a <name>/
-- subdirectory holding them; when given, it is the only place searched.
function data.locate(name, root)
  local spec = data.datasets[name]
  if not spec then error("data: unknown data set '" .. tostring(name) .. "'", 2) end
  local candidates = {}
  if root then
    root = tostring(root):gsub('/+$', '')
    if root == '' then root = '/' end
    candidates[1] = {dir = root, why = 'the root argument'}
    candidates[2] = {dir = root .. '/' .. name, why = 'the root argument'}
  else
    candidates = data.search_dirs(name)
  end
  local report = {}
  for _, c in ipairs(candidates) do
    local paths, missing = {}, {}
    for _, f in ipairs(spec.files) do
      paths[f.name] = find_file(c.dir, f.name)
      if not paths[f.name] then missing[#missing + 1] = f.name end
    end
    if #missing == 0 then return c.dir, paths end
    local status = #missing == #spec.files and 'no data files' or ('missing ' .. table.concat(missing, ', '))
    report[#report + 1] = string.format('  %s (%s): %s', c.dir, c.why, status)
  end
  local lines = {
    string.format('the %s data set was not found. Looked in:', name),
  }
  if #report == 0 then
    lines[#lines + 1] = '  nowhere: no root given, $LUACNN_DATA unset and no $HOME for a cache directory'
  end
  for _, r in ipairs(report) do lines[#lines + 1] = r end
  local default = data.default_fetch_dir(name) or '<dir>'
  lines[#lines + 1] = string.format(
    'Get it with `luacnn data fetch %s` (downloads the %d official files into %s and checks '
    .. 'their md5 sums), or pass root= (or set $LUACNN_DATA to the directory above %s/).',
    name, #spec.files, default, name)
  return nil, table.concat(lines, '\n')
end

-- Where `luacnn data fetch NAME` puts the files by default: the first place the loaders look.
function data.default_fetch_dir(name)
  local dirs = data.search_dirs(name)
  return dirs[1] and dirs[1].dir or nil
end

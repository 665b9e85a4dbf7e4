-- `luacnn data ...`: fetch, check and describe the data sets the loaders in lc.data read.
--
--   luacnn data list                                  data sets, where they are (or are not)
--   luacnn data fetch fashion-mnist [DIR] [--url BASE] [--force]
--   luacnn data check fashion-mnist [DIR]             md5 sums of the files found
--
-- fetch downloads each official file with curl to a temporary name in DIR, checks its md5
-- against the official sum and only then renames it into place (atomically), so an
-- interrupted or corrupt download never looks like data. Files already there with the right
-- sum are kept. DIR defaults to the first place the loaders look ($LUACNN_DATA/<name>, else
-- the per-user cache ~/.cache/luacnn/<name>). --url BASE replaces the official locations
-- (any URL curl reads, file:// included: BASE .. file name is fetched).
local cli = require 'luacnn.cli'
local data = require 'luacnn.data'
local unique = require 'luacnn.unique'

local M = {}

local USAGE = [[
usage: luacnn data list
       luacnn data fetch NAME [DIR] [--url BASE] [--force]
       luacnn data check NAME [DIR]

  list    the data sets, with where the loaders find them (or where they looked)
  fetch   download the official files of NAME into DIR and verify their md5 sums
          (DIR: default $LUACNN_DATA/NAME, else ~/.cache/luacnn/NAME; --url BASE: fetch
          BASE/<file> instead of the official locations, file:// works; --force: download
          even files that are present and verified)
  check   verify the md5 sums of the files of NAME (in DIR, or where the loaders find them)

data sets: ]]

local function out(...) io.stdout:write(...) end

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function file_size(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local n = f:seek('end')
  f:close()
  return n
end

local function human(bytes)
  if bytes >= 1e6 then return string.format('%.1f MB', bytes / 1e6) end
  if bytes >= 1e3 then return string.format('%.1f kB', bytes / 1e3) end
  return bytes .. ' bytes'
end

-- md5 of a file through coreutils' md5sum; nil and a reason when it cannot be computed.
local function md5(path)
  local p = io.popen('md5sum -- ' .. quote(path) .. ' 2>&1')
  local text = p:read('a')
  local ok = p:close()
  local sum = text:match('^\\?(%x+)')
  if not ok or not sum or #sum ~= 32 then
    return nil, 'md5sum failed: ' .. (text ~= '' and text:gsub('%s+$', '') or 'is coreutils installed?')
  end
  return sum:lower()
end

local function spec_of(name)
  local names = {}
  for n in pairs(data.datasets) do names[#names + 1] = n end
  table.sort(names)
  if not name then cli.fail('data: which data set? (one of: %s)', table.concat(names, ', ')) end
  local spec = data.datasets[name]
  if not spec then
    cli.fail("data: unknown data set '%s' (known: %s)", name, table.concat(names, ', '))
  end
  return spec
end

-- Options and positional words of a subcommand.
local function parse(args, flags)
  local opts, words = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local key, value = a:match('^%-%-([%w-]+)=(.*)$')
    key = key or a:match('^%-%-([%w-]+)$')
    if a == '-h' or a == '--help' then
      opts.help = true
    elseif key then
      if flags[key] == 'value' then
        if value == nil then
          i = i + 1
          value = args[i]
          if value == nil then cli.fail('data: --%s needs a value', key) end
        end
        opts[key] = value
      elseif flags[key] == 'flag' and value == nil then
        opts[key] = true
      else
        cli.fail("data: unknown option '%s' (see `luacnn data --help`)", a)
      end
    elseif a:sub(1, 1) == '-' and a ~= '-' then
      cli.fail("data: unknown option '%s' (see `luacnn data --help`)", a)
    else
      words[#words + 1] = a
    end
    i = i + 1
  end
  return opts, words
end

local function mkdir_p(dir)
  if os.execute('mkdir -p -- ' .. quote(dir)) ~= true then
    cli.fail('data fetch: cannot create the directory %s', dir)
  end
  -- a file we can create, since mkdir -p succeeds on existing read-only directories
  local probe = dir .. '/.luacnn-write-test'
  local f = io.open(probe, 'wb')
  if not f then cli.fail('data fetch: cannot write into %s (read-only? choose DIR)', dir) end
  f:close()
  os.remove(probe)
end

-- Downloads url to path with curl; true, or false and why. On a terminal curl draws its
-- progress bar; otherwise its error message is captured for ours.
local function curl(url, path)
  local tty = os.execute('test -t 2') == true
  local errfile = path .. '.curl-err'
  local cmd = string.format('curl -fL %s --retry 2 --connect-timeout 30 -o %s %s%s',
                            tty and '--progress-bar' or '-sS', quote(path), quote(url),
                            tty and '' or (' 2>' .. quote(errfile)))
  local ok, how, code = os.execute(cmd)
  local said = ''
  local f = io.open(errfile, 'rb')
  if f then
    said = f:read('a'):gsub('%s+$', ''):gsub('\n', '; ')
    f:close()
    os.remove(errfile)
  end
  if ok == true then return true end
  if how == 'exit' and code == 127 then return false, 'curl is not installed (apt-get install curl)' end
  local why = string.format('curl %s %s', how == 'signal' and 'killed by signal' or 'exited with status',
                            tostring(code))
  if said ~= '' then why = why .. ' (' .. said .. ')' end
  return false, why
end

local function temp_name(dir, name)
  return string.format('%s/.%s.part-%s', dir, name, unique())
end

-- Fetches one file into dir from the first base URL that serves it with the right sum.
local function fetch_file(f, dir, bases)
  local target = dir .. '/' .. f.name
  local failures = {}
  for _, base in ipairs(bases) do
    local url = base .. f.name
    local tmp = temp_name(dir, f.name)
    out(string.format('  %s (%s) from %s\n', f.name, human(f.bytes), url))
    io.stdout:flush()
    local ok, why = curl(url, tmp)
    if ok then
      local sum, err = md5(tmp)
      if not sum then
        os.remove(tmp)
        cli.fail('data fetch: %s', err)
      end
      if sum == f.md5 then
        local renamed, rerr = os.rename(tmp, target)
        if not renamed then
          os.remove(tmp)
          cli.fail('data fetch: cannot move the download into place as %s: %s', target, rerr)
        end
        return
      end
      local size = file_size(tmp)
      os.remove(tmp)
      why = string.format('md5 mismatch: got %s (%s bytes), expected %s (%d bytes): a corrupt '
                          .. 'download or not the official file', sum, tostring(size), f.md5, f.bytes)
    else
      os.remove(tmp)
    end
    out('    failed: ', why, '\n')
    failures[#failures + 1] = string.format('  %s: %s', url, why)
  end
  cli.fail('data fetch: could not get %s (nothing was installed for it):\n%s', f.name,
           table.concat(failures, '\n'))
end

local function fetch(args)
  local opts, words = parse(args, {url = 'value', force = 'flag'})
  if opts.help then return M.help() end
  local name = words[1]
  local spec = spec_of(name)
  if #words > 2 then cli.fail('data fetch: unexpected argument %s', words[3]) end
  local dir = words[2] or data.default_fetch_dir(name)
  if not dir then cli.fail('data fetch: no DIR given and no $LUACNN_DATA or $HOME to default to') end
  dir = dir:gsub('(.)/+$', '%1')
  local bases = spec.urls
  if opts.url then
    local base = opts.url
    if base:sub(-1) ~= '/' then base = base .. '/' end
    bases = {base}
  end
  mkdir_p(dir)
  math.randomseed(os.time(), math.floor(os.clock() * 1e6))
  out(string.format('fetching %s into %s\n', name, dir))
  for _, f in ipairs(spec.files) do
    local target = dir .. '/' .. f.name
    local present = file_size(target) ~= nil
    if present and not opts.force and md5(target) == f.md5 then
      out(string.format('  %s: already present, md5 ok\n', f.name))
    else
      if present then out(string.format('  %s: present but %s, fetching again\n', f.name,
                                        opts.force and '--force given' or 'its md5 is wrong')) end
      fetch_file(f, dir, bases)
    end
  end
  out(string.format('%s: %d files in %s, md5 sums verified\n', name, #spec.files, dir))
  local found = data.locate(name)
  if found ~= dir then
    out(string.format('(the loaders look elsewhere by default: pass root = %q, or set '
                      .. 'LUACNN_DATA to its parent directory)\n', dir))
  end
end

local function check(args)
  local opts, words = parse(args, {})
  if opts.help then return M.help() end
  local name = words[1]
  local spec = spec_of(name)
  local dir = words[2]
  local where, paths = data.locate(name, dir)
  if not where then cli.fail('data check: %s', paths) end
  out(string.format('%s in %s\n', name, where))
  local bad = 0
  for _, f in ipairs(spec.files) do
    local path = paths[f.name]
    if path:match('%.gz$') then
      local sum, err = md5(path)
      if not sum then cli.fail('data check: %s', err) end
      local good = sum == f.md5
      if not good then bad = bad + 1 end
      out(string.format('  %-28s %s\n', f.name, good and 'md5 ok'
                        or string.format('md5 MISMATCH: %s, expected %s', sum, f.md5)))
    else
      out(string.format('  %-28s uncompressed copy (the official sums are of the .gz files): not verified\n',
                        path:match('[^/]+$')))
    end
  end
  if bad > 0 then
    cli.fail('data check: %d file(s) of %s do not match the official md5 sums; fetch them again '
             .. 'with `luacnn data fetch %s %s --force`', bad, name, name, where)
  end
  out('all present files verified\n')
end

local function list()
  local names = {}
  for n in pairs(data.datasets) do names[#names + 1] = n end
  table.sort(names)
  for _, name in ipairs(names) do
    local spec = data.datasets[name]
    local total = 0
    for _, f in ipairs(spec.files) do total = total + f.bytes end
    out(string.format('%s  %s\n', name, spec.title))
    out(string.format('  %d files, %s, license %s\n', #spec.files, human(total), spec.license))
    local dir, paths = data.locate(name)
    if dir then
      out('  found in ', dir, '\n')
    else
      out('  not found: ', (paths:gsub('\n', '\n  ')), '\n')
    end
  end
end

function M.help()
  local names = {}
  for n in pairs(data.datasets) do names[#names + 1] = n end
  table.sort(names)
  out(USAGE, table.concat(names, ', '), '\n')
end

function M.main(args)
  args = args or {}
  local sub = args[1]
  local rest = {table.unpack(args, 2)}
  if sub == nil or sub == '--help' or sub == '-h' or sub == 'help' then return M.help() end
  if sub == 'list' then return list() end
  if sub == 'fetch' then return fetch(rest) end
  if sub == 'check' then return check(rest) end
  cli.fail("data: unknown subcommand '%s' (list, fetch, check; see `luacnn data --help`)", sub)
end

return M

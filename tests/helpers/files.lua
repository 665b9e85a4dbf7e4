-- Temporary folders and shell quoting for specs that work with files.
local files = {}

-- A string quoted for the shell, single quotes escaped.
function files.quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- A new empty folder under /tmp.
function files.tempdir()
  local p = io.popen('mktemp -d')
  local dir = p:read('l')
  p:close()
  assert(dir and dir ~= '', 'mktemp -d failed')
  return dir
end

-- Removes a folder made by tempdir (and refuses anything outside /tmp).
function files.rmtree(dir)
  if dir and dir:match('^/tmp/') then os.execute('rm -rf -- ' .. files.quote(dir)) end
end

return files

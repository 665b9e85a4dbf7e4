-- lc.data.leaves_root: where the Classify Leaves folder is.
local shared = require('luacnn.data.shared')
local data = shared.data
local file_exists = shared.file_exists

-- a/b/../c -> a/c (textual; enough for the candidates built below)
local function normalize(path)
  local abs = path:sub(1, 1) == '/'
  local parts = {}
  for part in path:gmatch('[^/]+') do
    if part == '..' and #parts > 0 and parts[#parts] ~= '..' then
      parts[#parts] = nil
    elseif part ~= '.' then
      parts[#parts + 1] = part
    end
  end
  local out = table.concat(parts, '/')
  return abs and '/' .. out or (out == '' and '.' or out)
end

local function leaves_candidates()
  local dirs = {}
  for _, d in ipairs(data.search_dirs('classify-leaves')) do dirs[#dirs + 1] = d end
  -- ../shared/data next to the source tree (the lib/ this file was loaded from, directly or
  -- through build/lib), as the data README says
  local src = debug.getinfo(1, 'S').source
  if src:sub(1, 1) == '@' then
    local dir = src:sub(2):match('^(.*)/[^/]*$') or '.'
    local up = dir .. '/../../..'   -- lib/luacnn/data -> the source tree
    for _, rel in ipairs {'/../shared/data', '/../../shared/data'} do
      dirs[#dirs + 1] = {dir = normalize(up .. rel .. '/classify-leaves'), why = 'shared/data beside the source tree'}
    end
  end
  -- and beside the executable's working directory
  dirs[#dirs + 1] = {dir = '../shared/data/classify-leaves', why = '../shared/data'}
  return dirs
end

-- The classify-leaves folder (holding train.csv), found as Fashion-MNIST is: $LUACNN_DATA,
-- the per-user cache, then ../shared/data beside the source tree. Returns nil and a message
-- saying where it looked when there is none.
function data.leaves_root()
  local looked = {}
  for _, c in ipairs(leaves_candidates()) do
    if file_exists(c.dir .. '/train.csv') then return c.dir end
    looked[#looked + 1] = string.format('  %s (%s)', c.dir, c.why)
  end
  return nil, 'the classify-leaves data set (a folder with train.csv, test.csv, images/) was not '
              .. 'found. Looked in:\n' .. table.concat(looked, '\n')
              .. '\nPass root= (or --data_root), or set $LUACNN_DATA to the folder above classify-leaves/.'
end

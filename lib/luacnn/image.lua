-- Image files <-> uint8 (C, H, W) tensors: JPEG through libjpeg-turbo, PNG through libpng
-- (decoded in C: runtime/image_io.c).
--
--   local img = lc.image.read('leaf.jpg')                  --> uint8 (3, 224, 224)
--   lc.image.read('leaf.jpg', {channels = 'gray'})          --> uint8 (1, 224, 224)
--   lc.image.read('leaf.jpg', {scale = 2})                  --> JPEG decoded at 1/2: (3, 112, 112)
--   lc.image.decode(bytes [, opts])                         --> the same from a string of file bytes
--   lc.image.write('out.png', img)                          --> 'out.png' (written atomically)
--   lc.image.write('out.jpg', x, {quality = 90})            -- x uint8 (C, H, W), C = 1, 3, 4
--                                                           -- (4 only to .png), or float in [0, 1]
--   lc.image.info('leaf.jpg')                               --> {channels = 3, height = 224, width = 224}
--
-- Options: channels = 'any' (default: the file's own, gray 1, colour 3, with alpha 4), 'gray',
-- 'rgb' or 'rgba'; scale = 1, 2, 4 or 8 (JPEG only: decode at 1/scale, each side
-- ceil(side / scale), much faster; PNG always decodes full size).
-- A misspelt option is an error naming the nearest ("image.read: unknown option 'chanels'
-- (did you mean 'channels'?)"). Every failure (missing, truncated, corrupt, not an image) is
-- an error naming the file.
local image = {}

local core = require('luacnn.core')._image
local check = require('luacnn.options').check

-- Calls into C with errors raised at the caller's line (not this file's).
local function call(level, f, ...)
  local ok, result = pcall(f, ...)
  if not ok then
    error((tostring(result):gsub('^[^\n]-:%d+: ', '')), level + 1)
  end
  return result
end

local CHANNELS = {any = 0, gray = 1, grey = 1, l = 1, rgb = 3, rgba = 4}

local function options(op, opts)
  if opts == nil then return 0, 1 end
  if type(opts) ~= 'table' then
    error(string.format("%s: options must be a table such as {channels = 'rgb'}, got %s", op, type(opts)), 3)
  end
  check(op, opts, {'channels', 'scale'}, 3)
  local c = 0
  if opts.channels ~= nil then
    local name = opts.channels
    c = type(name) == 'string' and CHANNELS[name:lower()]
        or (name == 1 or name == 3 or name == 4) and name or nil
    if not c then
      error(string.format("%s: channels must be 'gray', 'rgb', 'rgba' or 'any', got %s", op,
                          tostring(name)), 3)
    end
  end
  local scale = opts.scale or 1
  if scale ~= 1 and scale ~= 2 and scale ~= 4 and scale ~= 8 then
    error(string.format('%s: scale must be 1, 2, 4 or 8 (decode at 1/scale), got %s', op, tostring(scale)), 3)
  end
  return c, math.tointeger(scale)
end

function image.read(path, opts)
  if type(path) ~= 'string' then
    error('image.read: expected a file path (string), got ' .. type(path), 2)
  end
  local c, scale = options('image.read', opts)
  return call(2, core.read, path, c, scale)
end

function image.decode(bytes, opts)
  if type(bytes) ~= 'string' then
    error('image.decode: expected the bytes of a JPEG or PNG file (a string), got ' .. type(bytes), 2)
  end
  local c, scale = options('image.decode', opts)
  return call(2, core.decode, bytes, c, scale)
end

function image.write(path, t, opts)
  if type(path) ~= 'string' then
    error('image.write: expected a file path (string), got ' .. type(path), 2)
  end
  local quality = 95
  if opts ~= nil then
    if type(opts) ~= 'table' then error('image.write: options must be a table such as {quality = 90}', 2) end
    check('image.write', opts, {'quality'}, 2)
    quality = opts.quality or 95
    if math.type(quality) ~= 'integer' and not (type(quality) == 'number' and quality % 1 == 0) then
      error('image.write: quality must be an integer in 1..100, got ' .. tostring(quality), 2)
    end
    quality = math.tointeger(quality)
    if quality < 1 or quality > 100 then
      error('image.write: quality must be in 1..100, got ' .. quality, 2)
    end
  end
  return call(2, core.write, path, t, quality)
end

-- Header only: {channels = C, height = H, width = W} (channels as read with channels = 'any').
function image.info(path)
  if type(path) ~= 'string' then
    error('image.info: expected a file path (string), got ' .. type(path), 2)
  end
  local f, why = io.open(path, 'rb')
  if not f then error(string.format("image.info: cannot read '%s': %s", path, why), 2) end
  local bytes = f:read('a') or ''
  f:close()
  local ok, c, h, w = pcall(core.probe, bytes)
  if not ok then
    error(string.format("image.info: cannot decode '%s': %s", path, (tostring(c):gsub('^image%.info: ', ''))), 2)
  end
  return {channels = c, height = h, width = w}
end

return image

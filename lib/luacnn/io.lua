-- lc.io: checkpoints in the safetensors format (https://github.com/huggingface/safetensors),
-- which PyTorch, JAX and others read:
--   8 bytes: N, the header length, unsigned little-endian
--   N bytes: a JSON object {"name": {"dtype": "F32", "shape": [6, 1, 5, 5],
--            "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "string", ...}},
--            padded with spaces to a multiple of 8
--   the raw little-endian data of every tensor, row-major, at [begin, end) from here.
-- dtypes: float32 F32, float64 F64, int64 I64, uint8 U8, bfloat16 BF16.
--
--   lc.save(path, state_dict [, metadata])     metadata: a table string -> string
--   lc.load(path [, {device = 'cuda'}]) -> state_dict (ordered as saved), metadata
--
-- Files are written to a temporary file next to the target, then renamed over it, so a
-- failed or interrupted save never leaves a partial file under the final name.
--
-- Training checkpoints (model + optimizer + extra values such as the epoch):
--   lc.io.save_checkpoint(path, {model = net, optimizer = opt, scheduler = sched, extra = {...}})
--   local extra = lc.io.load_checkpoint(path, {model = net, optimizer = opt, scheduler = sched})
-- write two safetensors files: PATH (the model's state dict, loadable alone by any
-- safetensors reader) and PATH with its extension replaced by '.optim.safetensors' (the
-- optimizer's state tensors named 'state.<i>.<key>', i being the parameter's 1-based position
-- over the groups, and under the metadata key 'luacnn.optimizer' a JSON document holding the
-- param groups, the non-tensor state such as Adam's step counts, and the scheduler's state).
-- `extra` goes to the model file's metadata as JSON under 'luacnn.extra'.
-- A misspelt option of load, save_checkpoint or load_checkpoint is an error naming the
-- nearest ("load: unknown option 'devce' (did you mean 'device'?)").
local lc = require 'luacnn'
local core = require 'luacnn.core'
local json = require 'luacnn.json'
local unique = require 'luacnn.unique'
local check_options = require('luacnn.options').check

local io_ = {}

local dtype_codes = {float32 = 'F32', float64 = 'F64', int64 = 'I64', uint8 = 'U8', bfloat16 = 'BF16'}
local code_dtypes = {F32 = 'float32', F64 = 'float64', I64 = 'int64', U8 = 'uint8', BF16 = 'bfloat16'}
local dtype_sizes = {F32 = 4, F64 = 8, I64 = 8, U8 = 1, BF16 = 2}
local MAX_HEADER = 100 * 1024 * 1024  -- as the reference implementation

if string.pack('=i4', 1) ~= string.pack('<i4', 1) then
  error('luacnn.io: safetensors files are little-endian and this machine is not', 0)
end

local function fail(fmt, ...) error(string.format(fmt, ...), 0) end

-- ---- raw bytes of tensors ----

local function tensor_bytes(t)
  local host = t.device == 'cpu' and t or t:to('cpu')
  return host:contiguous():tobytes()
end

local function bytes_tensor(bytes, dtype, shape)
  return core.frombytes(bytes, dtype, shape)
end

-- ---- writing ----

local function ordered_keys(sd)
  local keys = {}
  for k in pairs(sd) do keys[#keys + 1] = k end  -- pairs follows a state dict's order
  local mt = getmetatable(sd)
  if not (mt and mt.__pairs) then table.sort(keys) end
  return keys
end

-- The file's bytes as a list of strings (header first), after checking every entry.
local function encode(sd, metadata, who)
  if type(sd) ~= 'table' then fail('%s: expected a table name -> tensor, got %s', who, type(sd)) end
  local keys = ordered_keys(sd)
  local header, chunks, offset = {}, {}, 0
  for _, k in ipairs(keys) do
    if type(k) ~= 'string' then fail('%s: tensor names must be strings, got a %s key', who, type(k)) end
    if k == '__metadata__' then fail("%s: '__metadata__' is reserved and cannot name a tensor", who) end
    local t = sd[k]
    if not lc.is_tensor(t) then fail("%s: value for '%s' is a %s, not a tensor", who, k, type(t)) end
    local code = dtype_codes[t.dtype]
    if not code then fail("%s: tensor '%s' has dtype %s, which safetensors cannot hold here", who, k, t.dtype) end
    local bytes = tensor_bytes(t)
    local shape = json.array{}
    for d = 1, t:dim() do shape[d] = t:size(d) end
    header[k] = {dtype = code, shape = shape, data_offsets = json.array{offset, offset + #bytes}}
    chunks[#chunks + 1] = bytes
    offset = offset + #bytes
  end
  if metadata ~= nil then
    if type(metadata) ~= 'table' then fail('%s: metadata must be a table string -> string', who) end
    local m = {}
    for mk, mv in pairs(metadata) do
      if type(mk) ~= 'string' or (type(mv) ~= 'string' and type(mv) ~= 'number') then
        fail('%s: metadata must map strings to strings, got %s -> %s', who, type(mk), type(mv))
      end
      m[mk] = tostring(mv)
    end
    if next(m) then header.__metadata__ = m end
  end
  local text = next(header) and json.encode(header) or '{}'
  text = text .. string.rep(' ', (8 - #text % 8) % 8)
  table.insert(chunks, 1, string.pack('<I8', #text) .. text)
  return chunks
end

-- The bytes into a temporary file next to path (removed again on any error); returns its name.
local function write_temp(path, chunks, who)
  if type(path) ~= 'string' or path == '' then fail('%s: expected a file path, got %s', who, tostring(path)) end
  local tmp = path .. '.tmp-' .. unique()
  local f, err = io.open(tmp, 'wb')
  if not f then fail("%s: cannot write '%s': %s", who, path, err) end
  local ok, werr = true, nil
  for _, c in ipairs(chunks) do
    local r, e = f:write(c)
    if not r then ok, werr = false, e break end
  end
  -- a full disk may only show when the buffered bytes are flushed
  if ok then
    local flushed, ferr = f:flush()
    if not flushed then ok, werr = false, ferr end
  end
  local closed, cerr = f:close()
  if ok and not closed then ok, werr = false, cerr end
  if not ok then
    os.remove(tmp)
    fail("%s: writing '%s' failed: %s", who, path, tostring(werr))
  end
  return tmp
end

local function commit(tmp, path, who)
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    fail("%s: writing '%s' failed: %s", who, path, tostring(rerr))
  end
end

local function write_atomic(path, chunks, who)
  commit(write_temp(path, chunks, who), path, who)
end

-- lc.save(path, state_dict [, metadata]): a module is accepted for its state dict.
function io_.save(path, sd, metadata)
  if type(sd) == 'table' and getmetatable(sd) and rawget(getmetatable(sd), '__luacnn_module') then
    sd = sd:state_dict()
  end
  write_atomic(path, encode(sd, metadata, 'save'), 'save')
end

-- ---- reading ----

local function read_file(path, who)
  if type(path) ~= 'string' then fail('%s: expected a file path, got %s', who, type(path)) end
  local f, err = io.open(path, 'rb')
  if not f then fail("%s: cannot open '%s': %s", who, path, (err or ''):gsub('^[^:]*: ', '')) end
  local data = f:read('a')
  f:close()
  if not data then fail("%s: cannot read '%s'", who, path) end
  return data
end

local function is_int_list(v)
  if type(v) ~= 'table' then return false end
  for i = 1, #v do if math.type(v[i]) ~= 'integer' or v[i] < 0 then return false end end
  for k in pairs(v) do if math.type(k) ~= 'integer' or k < 1 or k > #v then return false end end
  return true
end

-- Parses a safetensors file's bytes: entries sorted by offset, metadata, data start.
local function parse(data, path, who)
  local bad = function(fmt, ...)
    fail("%s: '%s' is not a valid safetensors file: " .. fmt, who, path, ...)
  end
  if #data < 8 then bad('it has %d bytes, fewer than the 8 of the header length', #data) end
  local n = string.unpack('<I8', data)
  if n < 2 or n > MAX_HEADER then bad('header length %d is out of range', n) end
  if 8 + n > #data then bad('header length %d runs past the end of the %d-byte file (truncated?)', n, #data) end
  local text = data:sub(9, 8 + n)
  if text:sub(1, 1) ~= '{' then bad("the header does not start with '{'") end
  local ok, header = pcall(json.decode, text)
  if not ok or type(header) ~= 'table' then bad('the header is not a JSON object (%s)', tostring(header)) end
  local data_len = #data - 8 - n
  local metadata = header.__metadata__
  header.__metadata__ = nil
  if metadata ~= nil and type(metadata) ~= 'table' then bad('__metadata__ is not an object') end
  local entries = {}
  for name, e in pairs(header) do
    if type(e) ~= 'table' then bad("entry '%s' is not an object", name) end
    local size = dtype_sizes[e.dtype]
    if not size then bad("tensor '%s' has dtype %s (supported: F32, F64, I64, U8, BF16)", name, tostring(e.dtype)) end
    if not is_int_list(e.shape) then bad("tensor '%s' has a bad shape", name) end
    if not is_int_list(e.data_offsets) or #e.data_offsets ~= 2 then bad("tensor '%s' has bad data_offsets", name) end
    local b, en = e.data_offsets[1], e.data_offsets[2]
    local numel = 1
    for _, s in ipairs(e.shape) do numel = numel * s end
    if en < b or en - b ~= numel * size then
      bad("tensor '%s' of shape (%s) %s needs %d bytes, its data_offsets [%d, %d] give %d", name,
          table.concat(e.shape, ', '), e.dtype, numel * size, b, en, en - b)
    end
    if en > data_len then
      bad("tensor '%s' needs bytes [%d, %d) but the data section has %d bytes (truncated?)", name, b, en, data_len)
    end
    entries[#entries + 1] = {name = name, dtype = code_dtypes[e.dtype], shape = e.shape, b = b, e = en}
  end
  -- by offset; empty tensors (begin == end) before the tensor that starts where they sit
  table.sort(entries, function(x, y)
    if x.b ~= y.b then return x.b < y.b end
    if x.e ~= y.e then return x.e < y.e end
    return x.name < y.name
  end)
  local pos = 0
  for _, e in ipairs(entries) do
    if e.b ~= pos then bad("tensor '%s' starts at %d where %d was expected (overlap or hole)", e.name, e.b, pos) end
    pos = e.e
  end
  if pos ~= data_len then bad('%d bytes of data follow the last tensor', data_len - pos) end
  return entries, metadata or {}, 8 + n
end

-- lc.load(path [, {device = ...}]) -> state dict (ordered as in the file), metadata table
function io_.load(path, opts)
  opts = check_options('load', opts, {'device'})
  local data = read_file(path, 'load')
  local entries, metadata, start = parse(data, path, 'load')
  local keys, map = {}, {}
  for _, e in ipairs(entries) do
    local t = bytes_tensor(data:sub(start + e.b + 1, start + e.e), e.dtype, e.shape)
    if opts.device and opts.device ~= 'cpu' then t = t:to(opts.device) end
    keys[#keys + 1] = e.name
    map[e.name] = t
  end
  return require('luacnn.nn.module').ordered_dict(keys, map), metadata
end

-- The header alone: {name = {dtype, shape, data_offsets}}, metadata (for tools and tests).
function io_.read_header(path)
  local data = read_file(path, 'read_header')
  local entries, metadata = parse(data, path, 'read_header')
  local out = {}
  for _, e in ipairs(entries) do out[e.name] = {dtype = e.dtype, shape = e.shape, data_offsets = {e.b, e.e}} end
  return out, metadata
end

-- ---- training checkpoints ----

local function optim_path(path)
  local base = path:gsub('%.safetensors$', '')
  return base .. '.optim.safetensors'
end
io_.optimizer_path = optim_path

local function is_module(x)
  return type(x) == 'table' and getmetatable(x) and rawget(getmetatable(x), '__luacnn_module')
end

-- The optimizer's state dict as tensors + a JSON document.
local function encode_optimizer(osd, scheduler_sd)
  local tensors, keys, scalars = {}, {}, {}
  local indices = {}
  for idx in pairs(osd.state) do indices[#indices + 1] = idx end
  table.sort(indices)
  for _, idx in ipairs(indices) do
    local names = {}
    for k in pairs(osd.state[idx]) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      local v = osd.state[idx][k]
      if lc.is_tensor(v) then
        local name = string.format('state.%d.%s', idx, k)
        keys[#keys + 1] = name
        tensors[name] = v
      else
        scalars[tostring(idx)] = scalars[tostring(idx)] or {}
        scalars[tostring(idx)][k] = v
      end
    end
  end
  local doc = {format = 1, param_groups = osd.param_groups, state = scalars, scheduler = scheduler_sd}
  local sd = require('luacnn.nn.module').ordered_dict(keys, tensors)
  return sd, json.encode(doc)
end

local function decode_optimizer(sd, doc_text, path)
  local ok, doc = pcall(json.decode, doc_text or '')
  if not ok or type(doc) ~= 'table' or type(doc.param_groups) ~= 'table' then
    fail("load_checkpoint: '%s' has no readable optimizer document under 'luacnn.optimizer' (%s)",
         path, ok and 'missing param_groups' or tostring(doc))
  end
  local function corrupt(fmt, ...)
    fail("load_checkpoint: '%s' has a corrupt optimizer document: " .. fmt, path, ...)
  end
  if doc.state ~= nil and type(doc.state) ~= 'table' then corrupt('state is not an object') end
  if doc.scheduler ~= nil and type(doc.scheduler) ~= 'table' then corrupt('scheduler is not an object') end
  local state = {}
  for idx, s in pairs(doc.state or {}) do
    local i = math.tointeger(tonumber(idx))
    if not i or i < 1 then corrupt("state key '%s' is not a parameter number", tostring(idx)) end
    if type(s) ~= 'table' then corrupt('state of parameter %d is not an object', i) end
    state[i] = state[i] or {}
    for k, v in pairs(s) do state[i][k] = v end
  end
  for name, t in pairs(sd) do
    local idx, k = name:match('^state%.(%d+)%.(.+)$')
    if not idx then fail("load_checkpoint: unexpected tensor '%s' in '%s'", name, path) end
    idx = tonumber(idx)
    state[idx] = state[idx] or {}
    state[idx][k] = t
  end
  return {state = state, param_groups = doc.param_groups}, doc.scheduler
end

-- save_checkpoint(path, {model = net | state_dict, optimizer = opt, scheduler = sched,
--                        extra = {epoch = 3, ...}})
function io_.save_checkpoint(path, what)
  if type(what) ~= 'table' or what.model == nil then
    fail('save_checkpoint: expected {model = net, optimizer = opt, extra = {...}}')
  end
  check_options('save_checkpoint', what, {'model', 'optimizer', 'scheduler', 'extra'})
  local sd = is_module(what.model) and what.model:state_dict() or what.model
  local meta = {['luacnn.format'] = 'checkpoint-1'}
  if what.extra ~= nil then meta['luacnn.extra'] = json.encode(what.extra) end
  if not what.optimizer then
    write_atomic(path, encode(sd, meta, 'save_checkpoint'), 'save_checkpoint')
    return
  end
  -- Two files replaced by two renames: a kill between them must not pair the old model with
  -- the new optimizer state. Both carry the same checkpoint id; the previous optimizer file
  -- stays as PATH.optim.safetensors.prev until the model file (renamed last) completes the
  -- new checkpoint, and load_checkpoint takes whichever optimizer file matches the model's id.
  local id = unique()
  meta['luacnn.checkpoint_id'] = id
  local osd = what.optimizer.state_dict and what.optimizer:state_dict() or what.optimizer
  local tensors, doc = encode_optimizer(osd, what.scheduler and what.scheduler:state_dict() or nil)
  local opath = optim_path(path)
  local otmp = write_temp(opath, encode(tensors, {['luacnn.optimizer'] = doc, ['luacnn.checkpoint_id'] = id},
                                        'save_checkpoint'), 'save_checkpoint')
  local ok, mtmp = pcall(write_temp, path, encode(sd, meta, 'save_checkpoint'), 'save_checkpoint')
  if not ok then
    os.remove(otmp)
    error(mtmp, 0)
  end
  local prev = opath .. '.prev'
  if io.open(opath, 'rb') then
    local moved, merr = os.rename(opath, prev)
    if not moved then
      os.remove(otmp); os.remove(mtmp)
      fail("save_checkpoint: cannot set aside '%s': %s", opath, tostring(merr))
    end
  end
  commit(otmp, opath, 'save_checkpoint')
  commit(mtmp, path, 'save_checkpoint')
  os.remove(prev)
end

-- load_checkpoint(path, {model = net, optimizer = opt, scheduler = sched, strict = true,
-- device}) -> extra (the table given to save_checkpoint), the model's state dict.
function io_.load_checkpoint(path, into)
  into = check_options('load_checkpoint', into, {'model', 'optimizer', 'scheduler', 'strict', 'device'})
  local sd, meta = io_.load(path, {device = into.device})
  if into.model then into.model:load_state_dict(sd, {strict = into.strict ~= false}) end
  if into.optimizer then
    local opath = optim_path(path)
    local id = meta['luacnn.checkpoint_id']
    local loaded, osd, ometa = pcall(io_.load, opath)
    if not loaded and not id then error(osd, 0) end
    if id and not (loaded and ometa['luacnn.checkpoint_id'] == id) then
      -- a save killed between setting the old optimizer file aside and renaming the new one
      -- in, or between the two renames: the previous optimizer file is the match
      local ok, psd, pmeta = pcall(io_.load, opath .. '.prev')
      if not (ok and pmeta['luacnn.checkpoint_id'] == id) then
        if not loaded then error(osd, 0) end
        fail("load_checkpoint: '%s' does not belong to the model file '%s' (checkpoint %s, optimizer " ..
             "file %s)", opath, path, id, tostring(ometa['luacnn.checkpoint_id']))
      end
      osd, ometa, opath = psd, pmeta, opath .. '.prev'
    end
    local optimizer_sd, scheduler_sd = decode_optimizer(osd, ometa['luacnn.optimizer'], opath)
    into.optimizer:load_state_dict(optimizer_sd)
    if into.scheduler and scheduler_sd then into.scheduler:load_state_dict(scheduler_sd) end
  end
  local extra
  if meta['luacnn.extra'] then
    local ok, v = pcall(json.decode, meta['luacnn.extra'])
    if not ok then fail("load_checkpoint: '%s' has unreadable extra metadata: %s", path, v) end
    extra = v
  end
  return extra, sd
end

return io_

-- What the luacnn REPL (cli/) asks of the library: hints for tab completion.
--
-- Completion lists a value's fields without running any code: its own keys and
-- those of its metatables' __index tables. Where fields come from an __index
-- *function* instead, the metatable's __fields table names them (its keys are
-- the field names, its values what they hold, so that after ':' only callable
-- ones are offered). Two such places in luacnn:
--   tensors: methods live in lc.Tensor, reached through a C __index
--   lc:      submodules (nn, optim, data, ...) load on first use
-- The executable calls setup(lc) once luacnn is loaded as the global `lc`.

local M = {}

local function hint(mt, fields)
  if type(mt) == 'table' and type(fields) == 'table' and rawget(mt, '__fields') == nil then
    rawset(mt, '__fields', fields)
  end
end

function M.setup(lc)
  if type(lc) ~= 'table' then return end
  hint(getmetatable(lc), rawget(lc, 'submodules'))
  local core = rawget(lc, 'core')
  if type(core) == 'table' then hint(rawget(core, 'Tensor_mt'), rawget(lc, 'Tensor')) end
end

return M

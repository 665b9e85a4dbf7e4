-- lc.data.read_csv: the records of a CSV file (parsed in C).
local shared = require('luacnn.data.shared')
local data = shared.data
local loader_core = shared.loader_core

-- The records of a CSV file (RFC 4180: header line, quoted fields with "" escapes, commas and
-- newlines inside quotes, LF or CRLF, a UTF-8 BOM skipped, blank lines ignored):
-- {header = {'image', 'label'}, rows = {{'images/0.jpg', 'maclura_pomifera'}, ...},
--  lines = {2, 3, ...}} (the line each record starts on). A malformed file is an error naming
-- the file and the line.
function data.read_csv(path)
  if type(path) ~= 'string' then error('read_csv: expected a path (string), got ' .. type(path), 2) end
  return loader_core().read_csv(path)
end

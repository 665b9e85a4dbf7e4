-- lc.data.read_csv: RFC 4180 CSV (header, quoted fields with "" escapes, commas and newlines
-- inside quotes, LF or CRLF, a UTF-8 BOM) and errors that name the file and the line.
local lc = require 'luacnn'
local files = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'helpers/files.lua')

local dir
setup(function() dir = files.tempdir() end)
teardown(function() files.rmtree(dir) end)

local function csv_file(name, text)
  local path = dir .. '/' .. name
  local f = assert(io.open(path, 'wb'))
  f:write(text)
  f:close()
  return path
end

local function read_error(path)
  local ok, err = pcall(lc.data.read_csv, path)
  assert.is_false(ok)
  return tostring(err)
end

describe('read_csv', function()
  it('reads a header and rows with their line numbers', function()
    local t = lc.data.read_csv(csv_file('plain.csv', 'image,label\nimages/0.jpg,maclura_pomifera\nimages/1.jpg,ulmus_rubra\n'))
    assert.same({'image', 'label'}, t.header)
    assert.same({{'images/0.jpg', 'maclura_pomifera'}, {'images/1.jpg', 'ulmus_rubra'}}, t.rows)
    assert.same({2, 3}, t.lines)
  end)

  it('unescapes quoted fields: commas, doubled quotes, empty fields', function()
    local t = lc.data.read_csv(csv_file('quoted.csv',
      'a,b,c\n"x, y","say ""hi""",\n"",plain,"z"\n'))
    assert.same({{'x, y', 'say "hi"', ''}, {'', 'plain', 'z'}}, t.rows)
  end)

  it('keeps newlines inside quotes and counts lines from where a record starts', function()
    local t = lc.data.read_csv(csv_file('multiline.csv', 'name,note\nfirst,"line one\nline two"\nsecond,ok\n'))
    assert.same({{'first', 'line one\nline two'}, {'second', 'ok'}}, t.rows)
    assert.same({2, 4}, t.lines)
  end)

  it('reads CRLF line ends, a missing final newline and a BOM', function()
    local t = lc.data.read_csv(csv_file('crlf.csv', '\239\187\191image,label\r\na.jpg,x\r\n"b\r\nc.jpg",y'))
    assert.same({'image', 'label'}, t.header)
    assert.same({{'a.jpg', 'x'}, {'b\r\nc.jpg', 'y'}}, t.rows)
    assert.same({2, 3}, t.lines)
  end)

  it('ignores blank lines and reads a one-column file', function()
    local t = lc.data.read_csv(csv_file('one.csv', 'image\n\nimages/5.jpg\n\r\nimages/6.jpg\n\n'))
    assert.same({{'images/5.jpg'}, {'images/6.jpg'}}, t.rows)
    assert.same({3, 5}, t.lines)
  end)

  it('names the file and line of a record with the wrong number of fields', function()
    local path = csv_file('fields.csv', 'image,label\na.jpg,x\nb.jpg,y,extra\n')
    local err = read_error(path)
    assert.matches(path, err, 1, true)
    assert.matches('line 3: expected 2 fields (as the header), got 3', err, 1, true)
    err = read_error(csv_file('short.csv', 'image,label\na.jpg\n'))
    assert.matches('short.csv line 2: expected 2 fields', err, 1, true)
  end)

  it('names the file and line of an unterminated quote', function()
    local err = read_error(csv_file('open.csv', 'image,label\na.jpg,x\n"b.jpg,y\nc.jpg,z\n'))
    assert.matches('open.csv line 3: unterminated quoted field', err, 1, true)
  end)

  it('rejects text after a closing quote and stray quotes', function()
    assert.matches('bad.csv line 2: unexpected character', read_error(csv_file('bad.csv', 'a,b\n"x"y,z\n')), 1, true)
    assert.matches('stray.csv line 2: a quote inside unquoted field 1',
                   read_error(csv_file('stray.csv', 'a,b\nx"y,z\n')), 1, true)
  end)

  it('reports a missing file and an empty file by name', function()
    assert.matches('nope.csv: cannot open', read_error(dir .. '/nope.csv'), 1, true)
    assert.matches('empty.csv: empty file', read_error(csv_file('empty.csv', '')), 1, true)
  end)
end)

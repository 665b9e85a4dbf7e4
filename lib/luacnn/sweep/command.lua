-- What the `sweep` and `compare` commands share as commands: printing a line as it happens,
-- and ending well: a mistake of the user, raised as {<command>_error = message}, becomes one
-- line on stderr and exit status 2 instead of a traceback.
local run = require 'luacnn.run'

local command = {}

-- Raises a usage error of command `name`: {sweep_error = ...} for 'sweep'. A table, so
-- that command.main tells it from a bug (and specs can read the message).
function command.usage_error(name, fmt, ...)
  error({[name .. '_error'] = string.format(fmt, ...)}, 0)
end

-- One line on stdout, flushed at once: a sweep's progress must show while runs go on.
function command.say(...)
  io.stdout:write(...)
  io.stdout:write('\n')
  io.stdout:flush()
end

-- Runs main(argv) as command `name` and returns its exit status: main's own, 2 after a
-- usage error (printed as "name: message"), and, where catch_interrupt is set, 130 after a
-- Ctrl-C (printed as "name: interrupted"). Any other error goes up unchanged.
function command.main(name, main, argv, catch_interrupt)
  local ok, code = pcall(main, argv or {})
  if ok then return code end
  local key = name .. '_error'
  if type(code) == 'table' and code[key] then
    io.stderr:write(name, ': ', code[key], '\n')
    return 2
  end
  if catch_interrupt and run.is_interrupt(code) then
    io.stderr:write(name, ': interrupted\n')
    return 130
  end
  error(code, 0)
end

return command

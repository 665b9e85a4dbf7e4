-- Subcommands of the luacnn executable: `luacnn <command> [args]`.
--
-- Each command is a module luacnn.cli.<command> with a function main(args),
-- args being the command line after the command's name. main's result is the
-- exit status: nil or true for success, false for failure, or a number.
-- A command reports a mistake of its user with cli.fail(...), which the
-- executable prints as it is, without a traceback.

local M = {}

-- In the order `luacnn help` lists them. The executable's own list of these
-- words (cli/main.c) must name the same ones.
M.commands = {
  {name = 'sweep', summary = 'run a script over a grid or a random sample of its settings'},
  {name = 'compare', summary = 'compare finished runs: settings that differ, metrics, curves'},
  {name = 'data', summary = 'fetch, check and describe the data sets'},
}

local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(e) return e.message end

-- Raises an error the executable prints without a traceback.
function M.fail(fmt, ...)
  error(setmetatable({message = string.format(fmt, ...)}, Failure), 0)
end

function M.is_failure(e) return getmetatable(e) == Failure end

local function find(name)
  for _, c in ipairs(M.commands) do
    if c.name == name then return c end
  end
end

local function module_name(name) return 'luacnn.cli.' .. name end

local function installed(name)
  local mod = module_name(name)
  return package.loaded[mod] ~= nil or package.preload[mod] ~= nil
      or package.searchpath(mod, package.path) ~= nil
end

function M.help(out)
  out = out or io.stdout
  out:write('usage: luacnn <command> [args]     (luacnn -h for the interpreter\'s options)\n\n',
            'commands:\n')
  for _, c in ipairs(M.commands) do
    out:write(string.format('  %-9s %s%s\n', c.name, c.summary,
                            installed(c.name) and '' or ' (not installed)'))
  end
  out:write('  help      this list; `luacnn help <command>` for one command\n')
end

-- Loads a command's module, with an error that says what is missing.
function M.load(name)
  if not find(name) then
    M.fail("unknown command '%s' (try 'luacnn help')", tostring(name))
  end
  if not installed(name) then
    M.fail("the '%s' command is not available: module '%s' was not found in package.path",
           name, module_name(name))
  end
  local cmd = require(module_name(name))
  if type(cmd) ~= 'table' or type(cmd.main) ~= 'function' then
    M.fail("module '%s' has no main(args) function", module_name(name))
  end
  return cmd
end

-- Runs `luacnn <name> <args...>`; args is a list of strings.
function M.run(name, args)
  args = args or {}
  if name == 'help' then
    if args[1] == nil then return M.help() end
    return M.load(args[1]).main({'--help'})
  end
  return M.load(name).main(args)
end

return M

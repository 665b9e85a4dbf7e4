-- Fuzz target: the lc.args command-line parser. The input is a command line, words split at
-- NUL or newline bytes, parsed against a spec using every kind of setting. Allowed: the
-- settings (each of its declared type, choices respected), nil + usage text for --help, or an
-- error message about an option or argument.
local args = require 'luacnn.args'
local C = require 'fuzz_common'

local spec = {
  'Fuzzed script.',
  lr = 0.1, epochs = 10, name = 'x', augment = false,
  batch_size = {256, help = 'examples per step'},
  optimizer = {'sgd', choices = {'sgd', 'adam'}, help = 'update rule'},
  weight_decay = {type = 'number', help = 'L2 penalty'},
  layers = {type = 'integer'},
}
local D = args.declarations(spec)
local prefixes = {'option ', 'unknown option ', "unexpected argument '"}

return function(bytes)
  local argv = C.split(bytes)
  local ok, settings, usage = C.allowed(prefixes, args.parse, D, argv, {script = 'fuzz'})
  if not ok then return end
  if settings == nil then
    assert(type(usage) == 'string', 'UNCLEAN: --help gave no usage text')
    return
  end
  assert(type(settings.lr) == 'number', 'UNCLEAN: lr is not a number')
  assert(math.type(settings.epochs) == 'integer', 'UNCLEAN: epochs is not an integer')
  assert(math.type(settings.batch_size) == 'integer', 'UNCLEAN: batch_size is not an integer')
  assert(type(settings.augment) == 'boolean', 'UNCLEAN: augment is not a boolean')
  assert(type(settings.name) == 'string', 'UNCLEAN: name is not a string')
  assert(settings.optimizer == 'sgd' or settings.optimizer == 'adam', 'UNCLEAN: choice not respected')
  assert(settings.weight_decay == nil or type(settings.weight_decay) == 'number', 'UNCLEAN: weight_decay')
  assert(settings.layers == nil or math.type(settings.layers) == 'integer', 'UNCLEAN: layers')
  assert(settings.seed == nil or math.type(settings.seed) == 'integer', 'UNCLEAN: seed')
end

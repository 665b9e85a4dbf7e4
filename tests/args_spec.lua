-- lc.args: settings from the command line (types, errors, suggestions, --help).
local H = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'fixtures/spec_helper.lua')
local args = require 'luacnn.args'

local spec = {
  'Train LeNet on Fashion-MNIST.',
  lr = 0.9,
  epochs = 10,
  batch_size = {256, help = 'examples per step'},
  device = 'auto',
  augment = false,
  shuffle = true,
  optimizer = {'sgd', choices = {'sgd', 'adam'}, help = 'update rule'},
  weight_decay = {type = 'number', help = 'L2 penalty'},
}

local function parse(argv) return args.parse(spec, argv, {script = 'lenet'}) end

local function parse_error(argv)
  local ok, err = pcall(parse, argv)
  assert.is_false(ok, 'expected an error for ' .. table.concat(argv, ' '))
  return err
end

describe('lc.args', function()
  it('resolves defaults with types inferred from them', function()
    local s = parse({})
    assert.equal(0.9, s.lr)
    assert.equal('float', math.type(s.lr))
    assert.equal(10, s.epochs)
    assert.equal('integer', math.type(s.epochs))
    assert.equal(256, s.batch_size)
    assert.equal('auto', s.device)
    assert.is_false(s.augment)
    assert.is_true(s.shuffle)
    assert.equal('sgd', s.optimizer)
    assert.is_nil(s.weight_decay)
    assert.is_nil(s.run_dir)     -- common settings, declared for every script
    assert.is_nil(s.seed)
  end)

  it('overrides with --name value, --name=value and dashed names', function()
    local s = parse({'--lr', '0.5', '--epochs=3', '--batch-size', '64', '--device', 'cpu',
                     '--optimizer=adam', '--weight_decay', '1e-4', '--seed', '7', '--run_dir', '/tmp/x'})
    assert.equal(0.5, s.lr)
    assert.equal(3, s.epochs)
    assert.equal('integer', math.type(s.epochs))
    assert.equal(64, s.batch_size)
    assert.equal('cpu', s.device)
    assert.equal('adam', s.optimizer)
    assert.equal(1e-4, s.weight_decay)
    assert.equal(7, s.seed)
    assert.equal('/tmp/x', s.run_dir)
  end)

  it('takes integer-valued numbers for integers and integers for numbers', function()
    local s = parse({'--epochs', '1e2', '--lr', '1'})
    assert.equal(100, s.epochs)
    assert.equal('integer', math.type(s.epochs))
    assert.equal(1.0, s.lr)
    assert.equal('float', math.type(s.lr))
  end)

  it('reads negative numbers as values', function()
    assert.equal(-0.5, parse({'--lr', '-0.5'}).lr)
    assert.equal(-1, parse({'--epochs', '-1'}).epochs)
  end)

  it('handles flags: --flag, --no-flag, --flag=false, --flag false', function()
    assert.is_true(parse({'--augment'}).augment)
    assert.is_false(parse({'--no-shuffle'}).shuffle)
    assert.is_false(parse({'--no_shuffle'}).shuffle)
    assert.is_false(parse({'--shuffle=false'}).shuffle)
    assert.is_false(parse({'--shuffle', 'false'}).shuffle)
    assert.is_true(parse({'--augment=yes'}).augment)
    -- a flag followed by another option does not swallow it
    local s = parse({'--augment', '--lr', '0.1'})
    assert.is_true(s.augment)
    assert.equal(0.1, s.lr)
  end)

  it('the last occurrence of an option wins', function()
    assert.equal(0.2, parse({'--lr', '0.1', '--lr', '0.2'}).lr)
  end)

  it('names a misspelt option and suggests the nearest one', function()
    assert.matches('unknown option %-%-lrr %(did you mean %-%-lr%?%)', parse_error({'--lrr', '0.1'}))
    assert.matches('did you mean %-%-batch_size%?', parse_error({'--batchsize', '64'}))
    assert.matches('did you mean %-%-epochs%?', parse_error({'--epoch', '3'}))
    assert.matches('did you mean %-%-optimizer%?', parse_error({'--optimiser', 'adam'}))
    -- nothing close: list the valid ones instead
    local err = parse_error({'--xyzzy', '1'})
    assert.matches('unknown option %-%-xyzzy', err)
    assert.matches('valid options: .*%-%-lr', err)
  end)

  it('rejects ill-typed values, naming the option, the type and the value', function()
    assert.equal("option --epochs expects an integer, got '2.5'", parse_error({'--epochs', '2.5'}))
    assert.equal("option --lr expects a number, got 'fast'", parse_error({'--lr', 'fast'}))
    assert.equal("option --augment expects true or false, got 'maybe'", parse_error({'--augment=maybe'}))
    assert.equal("option --optimizer must be one of sgd, adam, got 'adamw'", parse_error({'--optimizer', 'adamw'}))
    assert.equal("option --lr expects a number, got 'nan'", parse_error({'--lr', 'nan'}))
  end)

  it('rejects a missing value and stray words', function()
    assert.equal('option --lr needs a value (a number)', parse_error({'--lr'}))
    assert.equal('option --lr needs a value (a number)', parse_error({'--lr', '--epochs', '3'}))
    assert.matches("unexpected argument 'extra'", parse_error({'extra'}))
    assert.matches('unknown option %-x', parse_error({'-x'}))
    assert.matches('unknown option %-%-no_lr', parse_error({'--no-lr'}))
    assert.matches('takes no value', parse_error({'--no-augment=true'}))
  end)

  it('--help returns the usage text listing every setting with its default and help', function()
    local s, usage = parse({'--lr', '0.1', '--help'})
    assert.is_nil(s)
    assert.matches('usage: luacnn lenet.lua %[options%]', usage)
    assert.matches('Train LeNet on Fashion%-MNIST%.', usage)
    assert.matches('%-%-lr X%s+%(number, default 0%.9%)', usage)
    assert.matches('%-%-epochs N%s+%(integer, default 10%)', usage)
    assert.matches('%-%-batch_size N%s+examples per step %(integer, default 256%)', usage)
    assert.matches('%-%-device S%s+%(string, default auto%)', usage)
    assert.matches('%-%-%[no%-%]augment%s+%(flag, default off%)', usage)
    assert.matches('%-%-optimizer {sgd,adam}%s+update rule', usage)
    assert.matches('%-%-weight_decay X%s+L2 penalty %(number, no default%)', usage)
    assert.matches('%-%-run_dir', usage)
    assert.matches('%-%-seed N', usage)
    assert.is_nil(parse({'-h'}))
  end)

  it('catches reads of settings that were never declared', function()
    local s = parse({})
    local ok, err = pcall(function() return s.lrr end)
    assert.is_false(ok)
    assert.matches("no setting 'lrr' was declared %(did you mean 'lr'%?%)", err)
    assert.is_nil(s.weight_decay)          -- declared without a default: fine to read
    s.derived = 1                           -- scripts may add their own fields
    assert.equal(1, s.derived)
  end)

  it('remembers which settings were given', function()
    local s = parse({'--lr', '0.1'})
    local info = args.info(s)
    assert.equal('lenet', info.script)
    assert.is_true(info.explicit.lr)
    assert.is_nil(info.explicit.epochs)
  end)

  it('lets a script declare a common setting with its own default', function()
    local s = args.parse({seed = 42, lr = 0.1}, {})
    assert.equal(42, s.seed)
  end)

  it('rejects bad declarations clearly', function()
    assert.has_error(function() args.parse({lr = {}}, {}) end)
    local ok, err = pcall(args.parse, {epochs = {2.5, type = 'integer'}}, {})
    assert.is_false(ok); assert.matches('epochs', err)
    ok, err = pcall(args.parse, {opt = {'sgd', choices = {}}}, {})
    assert.is_false(ok); assert.matches('choices must be a non%-empty list', err)
    ok, err = pcall(args.parse, {x = {1, type = 'float'}}, {})
    assert.is_false(ok); assert.matches("type must be 'number'", err)
    ok, err = pcall(args.parse, {['bad name'] = 1}, {})
    assert.is_false(ok); assert.matches('identifiers', err)
  end)

  it('suggests by edit distance, prefixes included, and not wild guesses', function()
    assert.equal('batch_size', args.suggest('batch', {'batch_size', 'lr'}))
    assert.equal('lr', args.suggest('rl', {'batch_size', 'lr'}))
    assert.is_nil(args.suggest('momentum', {'batch_size', 'lr'}))
  end)

  it('reads the global arg when no list is given, and seeds math.random with --seed', function()
    local saved = _G.arg
    _G.arg = {[0] = 'scripts/lenet.lua', '--lr', '0.25', '--seed', '5'}
    local ok, s = pcall(args, {lr = 0.9})
    _G.arg = saved
    assert.is_true(ok, tostring(s))
    assert.equal(0.25, s.lr)
    assert.equal('lenet', args.info(s).script)
    local a = math.random()
    math.randomseed(5)
    assert.equal(math.random(), a)
    -- an explicit list instead of arg, and the options-table form
    assert.equal(0.5, args({lr = 0.9}, {'--lr', '0.5'}).lr)
    assert.equal(0.7, args({lr = 0.9}, {argv = {'--lr=0.7'}, script = 'x'}).lr)
    assert.equal(0.9, args({lr = 0.9}, {}).lr)
  end)

  describe('from a script run by luacnn', function()
    it('prints --help and exits 0', function()
      local out, rc = H.luacnn(H.q(H.fake) .. ' --help')
      assert.equal(0, rc, out)
      assert.matches('usage: luacnn fake_train%.lua', out)
      assert.matches('%-%-lr X%s+learning rate', out)
    end)

    it('exits 2 on a misspelt option, naming it and the nearest valid one', function()
      local out, rc = H.luacnn(H.q(H.fake) .. ' --lrr 0.1')
      assert.equal(2, rc, out)
      assert.matches('fake_train: unknown option %-%-lrr %(did you mean %-%-lr%?%)', out)
      assert.matches('%-%-help', out)
    end)

    it('exits 2 on an ill-typed value', function()
      local out, rc = H.luacnn(H.q(H.fake) .. ' --epochs three')
      assert.equal(2, rc, out)
      assert.matches("option %-%-epochs expects an integer, got 'three'", out)
    end)

    it('describes its settings as JSON for luacnn sweep (--args-json)', function()
      local out, rc = H.luacnn(H.q(H.fake) .. ' --args-json')
      assert.equal(0, rc, out)
      local d = require('luacnn.json').decode(out:match('{.*}'))
      assert.equal('number', d.options.lr.type)
      assert.equal('integer', d.options.epochs.type)
      assert.same({'sgd', 'adam'}, {d.options.optimizer.choices[1], d.options.optimizer.choices[2]})
      assert.is_true(d.options.run_dir.builtin)
    end)
  end)
end)

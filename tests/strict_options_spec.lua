-- Options tables outside the layers (lib/luacnn/options.lua's options.check): every function
-- that takes one refuses a misspelt key with "<who>: unknown option 'k' (did you mean 'x'?)"
-- (or the list of its options when none is near), and still takes every option it documents.
-- The layers', F's, optimizers' and schedulers' options are in options_spec.lua; the core's
-- (tensor creation, reductions, backward: parsed in C, bindings/common.c's lcb_check_opts)
-- at the end.
local lc = require 'luacnn'
local files = dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'helpers/files.lua')
local nn, T = lc.nn, lc.transforms
local options = require 'luacnn.options'
local d2l = require 'luacnn.d2l'
local run = require 'luacnn.run'
local trainer = require 'luacnn.trainer'
local plot = require 'luacnn.plot'
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local check = dofile(dir .. 'helpers/check.lua')

local tmpdir
local function tmp(name) return tmpdir .. '/' .. name end

-- "<who>: unknown option '<key>' (did you mean '<guess>'?)"
local function refuses(fn, who, key, guess)
  return check.raises(fn, string.format("%s: unknown option '%s' (did you mean '%s'?)", who, key, guess))
end

local function blobs(n)
  local X = lc.randn(n, 2)
  local y = lc.tensor(X:select(2, 1):gt(0):long():add(1):totable(), {dtype = 'int64'})
  return X, y
end

describe('options.check', function()
  it('returns the table, {} for nil, and refuses an unknown key with the nearest name', function()
    local o = {a = 1}
    assert.equal(o, options.check('f', o, {'a', 'b'}))
    assert.same({}, options.check('f', nil, {'a'}))
    assert.equal(o, options.check('f', o, {a = true}))            -- a set works as a list
    check.raises(function() options.check('f', {bb = 1}, {'a', 'b'}) end,
                 "f: unknown option 'bb' (did you mean 'b'?)")
    check.raises(function() options.check('f', {xyz = 1}, {'alpha', 'beta'}) end,
                 "f: unknown option 'xyz' (options: alpha, beta)")
    check.raises(function() options.check('f', {x = 1}, {}) end, "f: unknown option 'x' (options: none)")
    check.raises(function() options.check('f', {1}, {'a'}) end, 'f: the options table has an entry without a name')
    check.raises(function() options.check('f', 3, {'a'}) end, 'f: expected an options table {name = value, ...}, got number')
  end)

  it('raises at the level asked for: the line of the call that gave the table', function()
    local function api(opts)
      opts = options.check('api', opts, {'depth'}, 2)
      return opts
    end
    local ok, err = pcall(function() api{dept = 1} end)
    assert.is_false(ok)
    assert.matches("strict_options_spec%.lua:%d+: api: unknown option 'dept'", err)
    ok, err = pcall(options.check, 'api', {dept = 1}, {'depth'})   -- default: no position
    assert.equal("api: unknown option 'dept' (did you mean 'depth'?)", err)
  end)
end)

describe('misspelt options name the nearest', function()
  setup(function() tmpdir = files.tempdir() end)
  teardown(function() files.rmtree(tmpdir) end)

  it('lc.data loaders (as the layers, not their own message)', function()
    local X, y = blobs(8)
    refuses(function() lc.data.DataLoader({X, y}, {batchsize = 2}) end, 'DataLoader', 'batchsize', 'batch_size')
    refuses(function() lc.data.fashion_mnist{bach_size = 2} end, 'fashion_mnist', 'bach_size', 'batch_size')
    refuses(function() lc.data.DistributedSampler(10, {shufle = true}) end, 'DistributedSampler', 'shufle', 'shuffle')
    refuses(function() lc.data.to_tensor(lc.zeros(1, 2, 2, {dtype = 'uint8'}), {resise = 4}) end,
            'to_tensor', 'resise', 'resize')
    refuses(function() lc.data.ImageLoader{paths = {}, transfrom = 1} end, 'ImageLoader', 'transfrom', 'transform')
    refuses(function() lc.data.leaves{valid_ration = 0.1} end, 'leaves', 'valid_ration', 'valid_ratio')
    local loader = lc.data.DataLoader({X, y}, {batch_size = 4})
    refuses(function() loader:distribute{split_batches = true} end, 'DataLoader:distribute', 'split_batches', 'split_batch')
    -- every option of distribute
    assert.equal(loader, loader:distribute{num_replicas = 2, rank = 1, seed = 0, eval = false, split_batch = true})
    assert.equal(2, loader.batch_size)
  end)

  it('d2l.train_ch6, load_data_fashion_mnist and chapter_settings', function()
    local X, y = blobs(16)
    local it = lc.data.DataLoader({X, y}, {batch_size = 4})
    local net = nn.Sequential{nn.Linear(2, 2)}
    refuses(function() d2l.train_ch6(net, it, it, 1, 0.1, 'cpu', {max_batch = 10}) end,
            'train_ch6', 'max_batch', 'max_batches')
    refuses(function() d2l.train_ch6(net, it, it, 1, 0.1, 'cpu', {quite = true}) end, 'train_ch6', 'quite', 'quiet')
    refuses(function() d2l.load_data_fashion_mnist(4, nil, {subst = 8}) end,
            'load_data_fashion_mnist', 'subst', 'subset')
    -- batch_size and resize are its arguments: given again in opts they would be overwritten
    check.raises(function() d2l.load_data_fashion_mnist(4, nil, {batch_size = 8}) end,
                 "load_data_fashion_mnist: unknown option 'batch_size'")
    refuses(function() d2l.chapter_settings{epoch = 3} end, 'chapter_settings', 'epoch', 'epochs')

    -- every option of train_ch6
    local opt = lc.optim.SGD(net:parameters(), 0.1)
    local rows = {}
    local res = d2l.train_ch6(net, it, it, 2, 0.1, 'cpu', {
      settings = {}, run = false, init = false, optimizer = opt, loss = nn.CrossEntropyLoss(),
      scheduler = lc.optim.StepLR(opt, 1, 0.5), progress = false, progress_interval = 5,
      quiet = true, max_batches = 2, on_epoch = function(row) rows[#rows + 1] = row end,
      script = 'blobs', split_batch = true,
    })
    assert.equal(2, res.epochs)
    assert.equal(2, #rows)
    assert.equal(0.025, opt.param_groups[1].lr)
  end)

  it('d2l.load_data_fashion_mnist takes subset, root, shuffle and device', function()
    local data_dir = os.getenv('LUACNN_DATA')
    local root = data_dir and data_dir ~= '' and (data_dir .. '/fashion-mnist') or nil
    if not (root and lc.data.locate('fashion-mnist', root)) then
      pending('the Fashion-MNIST files are not in $LUACNN_DATA/fashion-mnist')
      return
    end
    local train = d2l.load_data_fashion_mnist(8, nil, {subset = 16, root = root, shuffle = false, device = 'cpu'})
    assert.equal(2, #train)
  end)

  it('trainer.fit and warmup_cosine', function()
    local X, y = blobs(16)
    local loader = lc.data.DataLoader({X, y}, {batch_size = 4, shuffle = true})
    local net = nn.Sequential{nn.Linear(2, 2)}
    local opt = lc.optim.SGD(net:parameters(), 0.1)
    refuses(function() trainer.fit{model = net, train_loader = loader, optimizer = opt, epoch = 2} end,
            'trainer.fit', 'epoch', 'epochs')
    refuses(function() trainer.fit{model = net, train_loader = loader, optimizer = opt, epochs = 1,
                                   valid_loder = loader} end, 'trainer.fit', 'valid_loder', 'valid_loader')
    refuses(function() trainer.warmup_cosine(opt, {total_steps = 4, warmup_step = 1}) end,
            'warmup_cosine', 'warmup_step', 'warmup_steps')

    -- every option of both
    local sched = trainer.warmup_cosine(opt, {total_steps = 8, warmup_steps = 1, warmup_start = 0.1,
                                              min_factor = 0.01})
    local seen = {}
    local function fit(extra)
      local o = {
        model = net, train_loader = loader, valid_loader = loader, epochs = 2, optimizer = opt,
        scheduler = sched, schedule_per = 'iteration', label_smoothing = 0.1,
        loss = function(logits, target) return lc.F.cross_entropy(logits, target) end,
        batch_transform = function(Xb, yb) return Xb, yb end, device = 'cpu', run = false,
        script = 'blobs', settings = {}, best_path = tmp('fit-best.safetensors'),
        last_path = tmp('fit-last.safetensors'), meta = {classes = {'a', 'b'}}, progress = false,
        log_every = 10, quiet = true, max_batches = 4, estimate_after = 1,
        on_estimate = function(e) seen.estimate = e end, on_epoch = function(row) seen[#seen + 1] = row end,
        on_epochs = function(n) seen.epochs = n end, stop_after_epoch = 2, time_budget = 1e6,
        split_batch = true, keep_open = true,
      }
      for k, v in pairs(extra or {}) do o[k] = v end
      return trainer.fit(o)
    end
    local res = fit()
    assert.equal(2, res.epochs)
    assert.equal(2, #seen)
    assert.is_table(seen.estimate)
    res = fit{resume = tmp('fit-last.safetensors')}   -- nothing left to do
    assert.equal(2, res.epochs)
  end)

  it('run folders: run.start, plot_curves, finish and guard', function()
    refuses(function() run.start{rot = tmp('runs')} end, 'run.start', 'rot', 'root')
    local r = run.start{settings = {lr = 0.1}, script = 'blobs', dir = tmp('run'), root = tmp('runs'),
                        metric = 'valid_acc', higher_is_better = true, quiet = true}
    assert.equal(tmp('run'), r.dir)
    r:log_epoch{epoch = 1, train_loss = 1.0, valid_acc = 0.5}
    refuses(function() r:plot_curves{titel = 'x'} end, 'run:plot_curves', 'titel', 'title')
    refuses(function() r:finish{stauts = 'failed'} end, 'run:finish', 'stauts', 'status')
    refuses(function() r:guard(function() end, {on_interupt = print}) end, 'run:guard', 'on_interupt', 'on_interrupt')
    if plot.available() then
      assert.equal(tmp('c.png'), r:plot_curves{path = tmp('c.png'), title = 'blobs', legend = 'none'})
    end
    local saved = false
    check.raises(function()
      r:guard(function() error('interrupted!', 0) end, {on_interrupt = function() saved = true end})
    end, 'interrupted!')
    assert.is_true(saved)
    r:finish{status = 'failed', metrics = {test_acc = 0.5}, error = 'boom', traceback = 'tb', plot = false}
    local back = run.load(tmp('run'))
    assert.equal('failed', back.summary.status)
    assert.equal(0.5, back.summary.final.test_acc)
  end)

  it('checkpoints: lc.load, save_checkpoint and load_checkpoint', function()
    local net = nn.Linear(2, 2)
    local opt = lc.optim.SGD(net:parameters(), 0.1, 0.9)
    local sched = lc.optim.StepLR(opt, 1)
    local path = tmp('ckpt.safetensors')
    refuses(function() lc.io.save_checkpoint(path, {model = net, optimiser = opt}) end,
            'save_checkpoint', 'optimiser', 'optimizer')
    lc.io.save_checkpoint(path, {model = net, optimizer = opt, scheduler = sched, extra = {epoch = 3}})
    refuses(function() lc.load(path, {devce = 'cpu'}) end, 'load', 'devce', 'device')
    check.raises(function() lc.load(path, {map_location = 'cpu'}) end,
                 "load: unknown option 'map_location' (options: device)")
    assert.is_not_nil(lc.load(path, {device = 'cpu'}).weight)
    refuses(function() lc.io.load_checkpoint(path, {modle = net}) end, 'load_checkpoint', 'modle', 'model')
    local extra = lc.io.load_checkpoint(path, {model = net, optimizer = opt, scheduler = sched,
                                               strict = true, device = 'cpu'})
    assert.same({epoch = 3}, extra)
  end)

  it('modules: summary, state_dict and load_state_dict (strict also positional, as PyTorch)', function()
    local net = nn.Sequential{nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)}
    refuses(function() net:summary({1, 2}, {dept = 2}) end, 'summary', 'dept', 'depth')
    local text = net:summary({1, 2}, {depth = 2, dtype = 'float32', device = 'cpu', print = false})
    assert.matches('total', text)
    refuses(function() net:state_dict{keepvars = true} end, 'state_dict', 'keepvars', 'keep_vars')
    local sd = net:state_dict{prefix = 'm.', keep_vars = true}
    assert.equal(net[1].weight, sd['m.1.weight'])
    refuses(function() net:load_state_dict({}, {stric = false}) end, 'load_state_dict', 'stric', 'strict')
    assert.same({'1.weight', '1.bias', '3.weight', '3.bias'}, net:load_state_dict({}, false).missing_keys)
    assert.equal(4, #net:load_state_dict({}, {strict = false}).missing_keys)
    check.raises(function() net:load_state_dict({}) end, 'Missing key(s)')
    check.raises(function() net:load_state_dict({}, true) end, 'Missing key(s)')
  end)

  it('nn.init: PyTorch order or names, misspelt names refused', function()
    local w = lc.zeros(64, 32)
    refuses(function() nn.init.kaiming_normal_(w, {mode = 'fan_out', nonlinearty = 'relu'}) end,
            'nn.init.kaiming_normal_', 'nonlinearty', 'nonlinearity')
    refuses(function() nn.init.normal_(w, {sdt = 1}) end, 'nn.init.normal_', 'sdt', 'std')
    refuses(function() nn.init.xavier_uniform_(w, {gian = 1}) end, 'nn.init.xavier_uniform_', 'gian', 'gain')
    -- by name and in order give the same draws
    local function same(f, ...)
      lc.manual_seed(3)
      local a = f(lc.zeros(64, 32), ...)
      return a
    end
    check.close(same(nn.init.kaiming_normal_, {a = 0, mode = 'fan_out', nonlinearity = 'relu'}),
                same(nn.init.kaiming_normal_, 0, 'fan_out', 'relu'), 0)
    check.close(same(nn.init.kaiming_uniform_, {a = 1, mode = 'fan_in', nonlinearity = 'leaky_relu'}),
                same(nn.init.kaiming_uniform_, 1), 0)
    check.close(same(nn.init.normal_, {mean = 1, std = 0.5}), same(nn.init.normal_, 1, 0.5), 0)
    check.close(same(nn.init.uniform_, {a = -2, b = 2}), same(nn.init.uniform_, -2, 2), 0)
    check.close(same(nn.init.xavier_uniform_, {gain = 2}), same(nn.init.xavier_uniform_, 2), 0)
    check.close(same(nn.init.xavier_normal_, {gain = 2}), same(nn.init.xavier_normal_, 2), 0)
    local std = nn.init.normal_(w, {std = 0.01}):std():item()
    assert.is_true(std > 0.008 and std < 0.012, tostring(std))
  end)

  it('lc.models', function()
    refuses(function() lc.models.resnet18{num_class = 3} end, 'models.resnet18', 'num_class', 'num_classes')
    refuses(function() lc.models.build('resnet18', {in_chanels = 1}) end, 'models.resnet18', 'in_chanels', 'in_channels')
    refuses(function() lc.models.ResNet(nil, {}, {num_class = 3}) end, 'ResNet', 'num_class', 'num_classes')
    local net = lc.models.resnet18{num_classes = 3, in_channels = 1, zero_init_residual = true}
    assert.equal(3, net.num_classes)
    refuses(function() lc.models.load_pretrained(net, net:state_dict(), {stict = false}) end,
            'load_pretrained', 'stict', 'strict')
    refuses(function() lc.models.init_from(net, net:state_dict(), {haed = 'fc'}) end,
            'load_pretrained', 'haed', 'head')
    local info = lc.models.load_pretrained(net, net:state_dict(), {strict = true, head = 'fc', quiet = true})
    assert.is_true(info.loaded > 0)
    assert.equal(info.loaded, lc.models.init_from(net, net:state_dict(), {quiet = true}).loaded)
  end)

  it('lc.image', function()
    local path = tmp('x.jpg')
    local img = lc.full({3, 8, 8}, 128, {dtype = 'uint8'})
    refuses(function() lc.image.write(path, img, {qualty = 90}) end, 'image.write', 'qualty', 'quality')
    lc.image.write(path, img, {quality = 90})
    refuses(function() lc.image.read(path, {chanels = 'rgb'}) end, 'image.read', 'chanels', 'channels')
    assert.same({1, 4, 4}, lc.image.read(path, {channels = 'gray', scale = 2}):size())
    local f = io.open(path, 'rb')
    local bytes = f:read('a')
    f:close()
    refuses(function() lc.image.decode(bytes, {scael = 2}) end, 'image.decode', 'scael', 'scale')
    assert.same({3, 8, 8}, lc.image.decode(bytes, {channels = 'rgb', scale = 1}):size())
  end)

  it('lc.transforms: image and batch transforms', function()
    refuses(function() T.Resize(8, {antialais = true}) end, 'Resize', 'antialais', 'antialias')
    refuses(function() T.Resize{sise = 8} end, 'Resize', 'sise', 'size')
    refuses(function() T.RandomCrop(8, {paddig = 2}) end, 'RandomCrop', 'paddig', 'padding')
    refuses(function() T.RandomResizedCrop(8, {scales = {0.5, 1}}) end, 'RandomResizedCrop', 'scales', 'scale')
    refuses(function() T.RandomRotation{degres = 10} end, 'RandomRotation', 'degres', 'degrees')
    refuses(function() T.ColorJitter{brigthness = 0.1} end, 'ColorJitter', 'brigthness', 'brightness')
    refuses(function() T.Normalize{mean = {0.5}, sdt = {0.5}} end, 'Normalize', 'sdt', 'std')
    check.raises(function() T.RandomHorizontalFlip{prob = 0.3} end,
                 "RandomHorizontalFlip: unknown option 'prob' (options: p)")
    check.raises(function() T.Compose{T.ToTensor(), tranform = 1} end, "Compose: unknown option 'tranform'")
    refuses(function() T.Mixup{alpah = 0.2} end, 'Mixup', 'alpah', 'alpha')
    refuses(function() T.CutMix{alph = 0.2} end, 'CutMix', 'alph', 'alpha')
    refuses(function() T.RandomChoice{T.Mixup(), T.CutMix(), pp = {0.5, 0.5}} end, 'RandomChoice', 'pp', 'p')
    refuses(function() T.MixupCutMix{mixup_alph = 0.1} end, 'MixupCutMix', 'mixup_alph', 'mixup_alpha')

    -- every option
    local tf = T.Compose{
      T.Resize{size = 12, antialias = true}, T.RandomCrop{size = 10, padding = 1, pad_if_needed = true, fill = 0},
      T.RandomResizedCrop{size = 8, scale = {0.5, 1}, ratio = {0.75, 1.33}, antialias = true},
      T.RandomHorizontalFlip{p = 0.3}, T.RandomVerticalFlip{p = 0.3}, T.RandomRotation{degrees = 10, fill = 0},
      T.ColorJitter{brightness = 0.1, contrast = 0.1, saturation = 0.1, hue = 0.1}, T.ToTensor(),
      T.Normalize{mean = {0.5, 0.5, 0.5}, std = {0.2, 0.2, 0.2}},
    }
    assert.same({3, 8, 8}, tf(lc.full({3, 16, 16}, 100, {dtype = 'uint8'}), {seed = 1, stream = 2}):size())
    assert.equal(0.3, T.RandomHorizontalFlip{p = 0.3}.p)
    local X, y = lc.randn(4, 3, 8, 8), lc.tensor({1, 2, 3, 1}, {dtype = 'int64'})
    local pick = T.RandomChoice{T.Mixup{alpha = 0.2}, T.CutMix{alpha = 1}, p = {0.5, 0.5}}
    assert.same({4, 3}, select(2, pick(X, y, 3)):size())
    local mix = T.MixupCutMix{mixup_alpha = 0.2, cutmix_alpha = 1.0, prob = 1.0, switch_prob = 0.5}
    assert.same({4, 3}, select(2, mix(X, y, 3)):size())
  end)

  it('lc.plot, lc.display, lc.autocast and DistributedDataParallel', function()
    refuses(function() plot.lines{xlable = 'epoch', series = {}} end, 'plot.lines', 'xlable', 'xlabel')
    refuses(function() plot.lines{series = {{y = {1, 2}, colour = 'red'}}} end, 'plot: series[1]', 'colour', 'color')
    refuses(function() plot.figure{panels = {}, colz = 2} end, 'plot.figure', 'colz', 'cols')
    check.raises(function() plot.figure{panels = {{series = {}, width = 300}}} end,
                 "plot.figure: panels[1]: unknown option 'width' (options: grid, legend, series,")
    refuses(function() plot.image_grid(lc.zeros(1, 1, 4, 4), {label = {'a'}}) end, 'image_grid', 'label', 'labels')
    if plot.available() then
      local chart = {title = 't', xlabel = 'x', ylabel = 'y', xlog = false, ylog = false, xlim = {1, 2},
                     ylim = {0, 3}, xticklabels = {'a', 'b'}, legend = 'best', grid = true,
                     series = {{name = 's', x = {1, 2}, y = {1, 2}, color = 'C2', dash = 'dashed',
                                marker = 'circle', width = 2, alpha = 0.5},
                               {y = {2, 1}, fmt = 'r-', style = 'solid'}}}
      local full = {path = tmp('lines.png'), width = 320, height = 240, font_scale = 1.2}
      for k, v in pairs(chart) do full[k] = v end
      assert.equal(tmp('lines.png'), plot.lines(full))
      assert.equal(tmp('fig.png'), plot.figure{panels = {chart, chart}, path = tmp('fig.png'), title = 'f',
                                               cols = 2, width = 640, height = 240, font_scale = 1})
      local x = lc.rand(2, 1, 4, 4)
      assert.equal(tmp('grid.png'), (plot.image_grid(x, {labels = {1, 2}, classes = {'a', 'b'},
        predictions = {1, 2}, truth = {1, 1}, mean = {0.5}, std = {0.5}, ncols = 2, scale = 2,
        font_scale = 1, path = tmp('grid.png')})))
    end
    local display = require('luacnn.jupyter').display   -- lc.display in the notebook kernel
    refuses(function() display('x', {displayid = 'p'}) end, 'display', 'displayid', 'display_id')
    assert.is_nil(display('# display outside a kernel prints', {display_id = 'p', update = true, metadata = {}}))

    refuses(function() lc.autocast({dtyp = 'bfloat16'}, function() end) end, 'autocast', 'dtyp', 'dtype')
    assert.equal(7, lc.autocast({dtype = 'bfloat16', enabled = false}, function() return 7 end))
    refuses(function() nn.DistributedDataParallel(nn.Linear(2, 2), {bucket = 1}) end,
            'DistributedDataParallel', 'bucket', 'bucket_mb')
  end)

  it("the core's: tensor creation, reductions, backward, memory format, a transform's call", function()
    refuses(function() lc.tensor({1, 2}, {dtyp = 'int64'}) end, 'tensor', 'dtyp', 'dtype')
    assert.equal('int64', lc.tensor({1, 2}, {dtype = 'int64', device = 'cpu'}).dtype)
    refuses(function() lc.zeros(2, 3, {dtype = 'float64', devce = 'cpu'}) end, 'zeros', 'devce', 'device')
    for _, make in ipairs{lc.zeros, lc.ones, lc.empty, lc.rand, lc.randn} do
      assert.is_true(make(2, {dtype = 'float32', device = 'cpu', requires_grad = true}).requires_grad)
    end
    refuses(function() lc.full({2}, 1, {requires_gard = true}) end, 'full', 'requires_gard', 'requires_grad')
    refuses(function() lc.arange(3, {dtpe = 'float32'}) end, 'arange', 'dtpe', 'dtype')
    refuses(function() lc.linspace(0, 1, 3, {dtpe = 'float64'}) end, 'linspace', 'dtpe', 'dtype')
    refuses(function() lc.eye(2, {dtpe = 'float64'}) end, 'eye', 'dtpe', 'dtype')
    refuses(function() lc.randint(1, 3, 4, {dtpe = 'int64'}) end, 'randint', 'dtpe', 'dtype')
    refuses(function() lc.randperm(4, {dtyp = 'int64'}) end, 'randperm', 'dtyp', 'dtype')
    refuses(function() lc.zeros_like(lc.rand(2), {dtyp = 'int64'}) end, 'zeros', 'dtyp', 'dtype')
    assert.equal('float64', lc.zeros_like(lc.rand(2), {dtype = 'float64'}).dtype)
    local x = lc.rand(3, 2)
    refuses(function() x:sum(1, {keepdm = true}) end, 'sum', 'keepdm', 'keepdim')
    assert.equal(2, x:sum(1, {keepdim = true}):dim())
    refuses(function() x:var(1, {unbaised = false}) end, 'var', 'unbaised', 'unbiased')
    assert.equal(2, x:var(1, {keepdim = true, unbiased = false}):dim())
    assert.equal(1, x:var(1, {correction = 0}):dim())
    refuses(function() x:max(1, {keepdm = true}) end, 'max', 'keepdm', 'keepdim')
    local w = lc.rand(3, {requires_grad = true})
    local y = (w * 2):sum()
    refuses(function() y:backward{retain_grap = true} end, 'backward', 'retain_grap', 'retain_graph')
    y:backward{retain_graph = true}
    y:backward()
    assert.equal(4, w.grad[1]:item())
    local img = lc.rand(1, 3, 2, 2)
    refuses(function() img:contiguous{memory_formt = 'channels_last'} end, 'contiguous', 'memory_formt',
            'memory_format')
    assert.is_true(img:contiguous{memory_format = 'channels_last'}:is_contiguous('channels_last'))
  end)
end)

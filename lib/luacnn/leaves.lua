-- luacnn.leaves: the Kaggle "Classify Leaves" pipeline behind scripts/resnet_leaves.lua —
-- settings and recipes, training with the shared loop (luacnn.trainer), prediction with a
-- checkpoint, and submission.csv.
--
--   local leaves = require 'luacnn.leaves'
--   local settings = leaves.settings()          -- lc.args with the recipes applied
--   leaves.main(settings)                       -- train (+ submission) or --predict
--   leaves.predict{checkpoint = 'best.safetensors', list = 'x.csv', data_root = dir,
--                  out = 'preds.csv'}          -- -> {accuracy =, n =, labels = {...}}
--
-- Recipes (--recipe NAME) set the defaults of the settings not given on the command line:
--   reference  the reference run: ResNet-18, input 224 (Resize), batch 64, plain SGD lr 0.02,
--              15 epochs, no augmentation (inputs normalised with ImageNet's mean and std)
--   strong     RandomResizedCrop + flips + ColorJitter, label smoothing 0.1, mixup/cutmix,
--              SGD nesterov momentum 0.9, weight decay 5e-4 (not on BN and biases), cosine
--              schedule with 2 warmup epochs, 60 epochs, flip test-time augmentation;
--              --full_train then trains the final model on train+valid
--   cpu        input 64, decoded images cached in memory, batch 128, SGD nesterov momentum
--              0.9 lr 0.1, cosine with 1 warmup epoch, label smoothing 0.1, light
--              augmentation (RandomResizedCrop scale 0.35..1 + flips), up to 30 epochs within a
--              25-minute time budget (--time_budget: after epochs 1 and 2 the number of epochs
--              is lowered to what fits and the cosine shortened), flip TTA
-- Checkpoints carry, in their metadata ('luacnn.extra' -> meta), the class names, the
-- architecture, the input size and the normalisation, so --predict needs nothing else.
local lc = require 'luacnn'
local run = require 'luacnn.run'
local trainer = require 'luacnn.trainer'

local leaves = {}

leaves.MEAN = {0.485, 0.456, 0.406}
leaves.STD = {0.229, 0.224, 0.225}

leaves.recipes = {
  reference = {arch = 'resnet18', size = 224, batch_size = 64, lr = 0.02, epochs = 15,
               momentum = 0, nesterov = false, weight_decay = 0, schedule = 'constant',
               warmup_epochs = 0, augment = 'none', label_smoothing = 0, mixup = 0, cutmix = 0,
               tta = false, cache = false, zero_init_residual = false},
  strong = {arch = 'resnet18', size = 224, batch_size = 64, lr = 0.05, epochs = 60,
            momentum = 0.9, nesterov = true, weight_decay = 5e-4, schedule = 'cosine',
            warmup_epochs = 2, augment = 'strong', label_smoothing = 0.1, mixup = 0.2,
            cutmix = 1.0, tta = true, cache = false, zero_init_residual = true},
  cpu = {arch = 'resnet18', size = 64, batch_size = 128, lr = 0.1, epochs = 30, momentum = 0.9,
         nesterov = true, weight_decay = 5e-4, schedule = 'cosine', warmup_epochs = 1,
         augment = 'light', label_smoothing = 0.1, mixup = 0, cutmix = 0, tta = true,
         cache = true, time_budget = 25, zero_init_residual = true},
}

-- The command-line settings (lc.args spec). Recipe-controlled settings have no default here:
-- leaves.apply_recipe fills them from the recipe unless given.
function leaves.spec()
  return {
    'Train a ResNet on the Kaggle "Classify Leaves" set (176 species), keep the best checkpoint, ' ..
    'write submission.csv; or, with --predict LIST.csv, label images with a checkpoint.',
    recipe = {'reference', choices = {'reference', 'strong', 'cpu'},
              help = 'defaults for the settings below not given: reference (the reference run), ' ..
                     'strong (augmentation, mixup, cosine, long), cpu (64 px, cached, ~25 min on 2 cores)'},
    arch = {type = 'string', choices = {'resnet18', 'resnet34', 'resnet50'}, help = 'network (recipe: resnet18)'},
    size = {type = 'integer', help = 'input height and width (recipe: 224 / 64)'},
    batch_size = {type = 'integer', help = 'images per step (recipe: 64 / 128)'},
    lr = {type = 'number', help = 'peak learning rate (recipe: 0.02 / 0.05 / 0.1)'},
    epochs = {type = 'integer', help = 'epochs (recipe: 15 / 60 / 18)'},
    momentum = {type = 'number', help = 'SGD momentum (recipe: 0 / 0.9)'},
    nesterov = {type = 'boolean', help = 'Nesterov momentum'},
    weight_decay = {type = 'number', help = 'L2 penalty on conv and linear weights (recipe: 0 / 5e-4)'},
    schedule = {type = 'string', choices = {'constant', 'cosine'}, help = 'learning-rate schedule, per step'},
    warmup_epochs = {type = 'number', help = 'linear warmup length in epochs'},
    augment = {type = 'string', choices = {'none', 'flip', 'light', 'strong'},
               help = 'training augmentation: none (Resize), flip, light (RandomResizedCrop + flips), ' ..
                      'strong (+ ColorJitter)'},
    label_smoothing = {type = 'number', help = 'label smoothing of the cross-entropy'},
    mixup = {type = 'number', help = 'mixup alpha (0: off)'},
    cutmix = {type = 'number', help = 'cutmix alpha (0: off)'},
    mix_prob = {1.0, help = 'probability that a batch is mixed when mixup/cutmix is on'},
    tta = {type = 'boolean', help = 'average the predictions of the image and its horizontal flip'},
    cache = {type = 'boolean', help = 'keep the decoded images in memory (later epochs decode nothing)'},
    eval_size = {type = 'integer', help = 'input size for validation and prediction (default: --size; ' ..
                                          'a little larger often helps after RandomResizedCrop)'},
    zero_init_residual = {type = 'boolean', help = "zero the last BN of each block (torchvision's option)"},
    time_budget = {type = 'number', help = 'minutes of training + validation: after epochs 1 and 2 the ' ..
                                           'number of epochs is lowered to fit, the cosine shortened (recipe cpu: 25; 0: none)'},
    full_train = {false, help = 'train on train+valid (no valid accuracy; the last epoch is kept)'},
    valid_ratio = {0.2, help = 'share of the labelled images held out for validation'},
    split_seed = {0, help = 'seed of the train/valid split'},
    limit = {type = 'integer', help = 'use only the first N labelled images (smoke runs)'},
    test_limit = {type = 'integer', help = 'predict only the first N test images'},
    data_root = {type = 'string', help = 'the classify-leaves folder (default: found as Fashion-MNIST is)'},
    device = {'auto', help = "'auto' (the GPU when there is one), 'cpu', 'cuda', 'cuda:1'"},
    workers = {type = 'integer', help = 'loader threads (default: the cores)'},
    init = {type = 'string', help = 'start from torchvision-named weights (a safetensors file)'},
    resume = {type = 'string', help = 'continue an interrupted run: its folder or last.safetensors'},
    predict = {type = 'string', help = 'predict mode: a CSV (image[,label]) of paths relative to --data_root'},
    checkpoint = {type = 'string', help = 'predict mode: the checkpoint (best.safetensors of a run)'},
    out = {type = 'string', help = 'predictions / submission CSV to write (predict: default preds.csv)'},
    submission = {true, help = 'after training, predict test.csv and write submission.csv'},
    seed = {0, help = 'seed of lc\'s generator (initialisation, order, augmentation)'},
    stop_after_epoch = {type = 'integer', help = 'stop as Ctrl-C would after this epoch (tests of --resume)'},
    progress = {'auto', choices = {'auto', 'on', 'off'}, help = 'live progress line (auto: on a terminal)'},
  }
end

-- Fills the settings not given on the command line from the recipe.
function leaves.apply_recipe(settings)
  local info = lc.args.info(settings)
  local explicit = info and info.explicit or {}
  local recipe = leaves.recipes[settings.recipe or 'reference']
  for k, v in pairs(recipe) do
    if not explicit[k] and rawget(settings, k) == nil then settings[k] = v end
  end
  return settings
end

-- Settings a resumed run takes from its checkpoint unless given again.
local not_resumed = {resume = true, stop_after_epoch = true, predict = true, checkpoint = true,
                     run_dir = true, progress = true, workers = true, device = true, out = true}

-- lc.args + recipe, from the command line (or an explicit argv list). With --resume, the
-- settings saved in the checkpoint fill those not given on the command line.
function leaves.settings(argv)
  local s = lc.args(leaves.spec(), argv)
  if s.resume and not s.predict then
    local extra = trainer.read_meta(trainer.checkpoint_path(s.resume))
    local saved = extra and extra.meta and extra.meta.settings
    if type(saved) == 'table' then
      local info = lc.args.info(s)
      local explicit = info and info.explicit or {}
      for k, v in pairs(saved) do
        if not explicit[k] and not not_resumed[k] then
          local ok = pcall(function() return s[k] end)   -- declared settings only
          if ok then s[k] = v end
        end
      end
      if not explicit.seed and saved.seed ~= nil then lc.manual_seed(saved.seed) end
    end
  end
  return leaves.apply_recipe(s)
end

-- ---- transforms ----

local function T() return lc.transforms end

function leaves.eval_transform(size, mean, std)
  local t = T()
  return t.Compose{t.Resize({size, size}), t.ToTensor(),
                   t.Normalize{mean = mean or leaves.MEAN, std = std or leaves.STD}}
end

function leaves.train_transform(s)
  local t = T()
  local size, aug = s.size, s.augment
  local norm = t.Normalize{mean = leaves.MEAN, std = leaves.STD}
  if aug == 'none' then return leaves.eval_transform(size) end
  if aug == 'flip' then
    return t.Compose{t.Resize({size, size}), t.RandomHorizontalFlip(), t.RandomVerticalFlip(),
                     t.ToTensor(), norm}
  end
  if aug == 'light' then
    return t.Compose{t.RandomResizedCrop(size, {scale = {0.35, 1}, ratio = {3 / 4, 4 / 3}}),
                     t.RandomHorizontalFlip(), t.RandomVerticalFlip(), t.ToTensor(), norm}
  end
  return t.Compose{t.RandomResizedCrop(size, {scale = {0.25, 1}, ratio = {3 / 4, 4 / 3}}),
                   t.RandomHorizontalFlip(), t.RandomVerticalFlip(),
                   t.ColorJitter{brightness = 0.3, contrast = 0.3, saturation = 0.3},
                   t.ToTensor(), norm}
end

-- mixup / cutmix as a batch transform giving soft targets, or nil when off.
function leaves.mix_transform(s, num_classes)
  local mixup, cutmix = s.mixup or 0, s.cutmix or 0
  if mixup <= 0 and cutmix <= 0 then return nil end
  local t = T()
  local mix
  if t.MixupCutMix then
    mix = t.MixupCutMix{mixup_alpha = mixup, cutmix_alpha = cutmix, prob = s.mix_prob or 1}
  elseif mixup > 0 and cutmix > 0 then
    mix = t.RandomChoice{t.Mixup{alpha = mixup}, t.CutMix{alpha = cutmix}}
  elseif mixup > 0 then
    mix = t.Mixup{alpha = mixup}
  else
    mix = t.CutMix{alpha = cutmix}
  end
  return function(X, y) return mix(X, y, num_classes) end
end

-- ---- small helpers ----

local function resolve_device(name)
  if name == nil or name == 'auto' then return lc.try_gpu() end
  if name:match('^cuda') and not lc.cuda.is_available() then
    local why = lc.cuda.unavailable_reason and lc.cuda.unavailable_reason() or 'no GPU'
    error(string.format('--device %s: no usable GPU here (%s); use --device cpu (or auto)', name,
                        tostring(why)), 0)
  end
  return name
end
leaves.resolve_device = resolve_device

local function csv_field(v)
  local s = tostring(v)
  if s:find('[,"\r\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

-- Writes rows (lists of fields) under a header, atomically.
function leaves.write_csv(path, header, rows)
  local out = {table.concat(header, ',')}
  for _, r in ipairs(rows) do
    local f = {}
    for i, v in ipairs(r) do f[i] = csv_field(v) end
    out[#out + 1] = table.concat(f, ',')
  end
  -- in a data-parallel job, rank 0 writes
  if not lc.dist.is_secondary() then run.atomic_write(path, table.concat(out, '\n') .. '\n') end
  return path
end

local function join(root, p)
  if p:sub(1, 1) == '/' or root == nil or root == '' then return p end
  return (root:gsub('/+$', '')) .. '/' .. p
end

local function flip_w(X)
  local W = X:size(4)
  return X:index_select(4, lc.arange(W, 0, -1, {dtype = 'int64', device = X.device}))
end

-- Class scores (softmax probabilities, on the CPU) for every image of paths, in order.
-- opts: net, size, mean, std, device, batch_size, workers, tta, cache, progress(text)
function leaves.scores(paths, opts)
  local tf = leaves.eval_transform(opts.size, opts.mean, opts.std)
  local loader = lc.data.ImageLoader{paths = paths, transform = tf, batch_size = opts.batch_size or 64,
                                     shuffle = false, workers = opts.workers, device = opts.device,
                                     rows = opts.rows}
  local net, device = opts.net, opts.device
  net:eval()
  local parts = {}
  local done = 0
  lc.no_grad(function()
    for X in loader do
      if X.device ~= device then X = X:to(device) end
      local p = lc.F.softmax(net(X), 2)
      if opts.tta then p = (p + lc.F.softmax(net(flip_w(X)), 2)) * 0.5 end
      parts[#parts + 1] = p:to('cpu')
      done = done + X:size(1)
      if opts.on_batch then opts.on_batch(done, #paths) end
    end
  end)
  if #parts == 0 then error('leaves: nothing to predict (no images)', 0) end
  return #parts == 1 and parts[1] or lc.cat(parts, 1)
end

-- A progress callback (done, total) for long predictions: a line every 10 seconds.
function leaves.reporter(what, quiet)
  local t0 = run.now()
  local last = t0
  return function(done, total)
    local t = run.now()
    if not quiet and t - last >= 10 and done < total then
      last = t
      local ips = done / math.max(t - t0, 1e-3)
      io.stdout:write(string.format('predicting %s: %d/%d images, %.0f images/sec, ETA %s\n', what,
                                    done, total, ips, trainer.duration((total - done) / ips)))
      io.stdout:flush()
    end
  end
end

-- Predicted class indices (1-based) as a Lua list.
local function argmax_list(P)
  local idx = P:argmax(2)
  local out = {}
  local t = idx:totable()
  for i, v in ipairs(t) do out[i] = math.tointeger(v) end
  return out
end

-- ---- the model from a checkpoint ----

-- Reads a checkpoint made by train(): the network (weights loaded) and its meta.
function leaves.load_checkpoint(path, device)
  local extra = trainer.read_meta(path)
  local meta = extra and extra.meta
  if type(meta) ~= 'table' or type(meta.classes) ~= 'table' then
    error(string.format("leaves: '%s' is not a leaves checkpoint (no class list in its metadata)", path), 0)
  end
  local net = lc.models.build(meta.arch or 'resnet18', {num_classes = #meta.classes,
                                                      in_channels = meta.in_channels or 3})
  local sd = lc.load(path)
  net:load_state_dict(sd)
  net:to(device or 'cpu')
  return net, meta, extra
end

-- ---- predict mode ----

-- predict{list = CSV, data_root = DIR, checkpoint = FILE, out = FILE, device, batch_size,
-- workers, tta (default: the checkpoint's recipe choice), size (default: the checkpoint's
-- input size), quiet}
-- -> {n, accuracy (nil without labels), labels = {...predicted names}, out}
function leaves.predict(o)
  local device = resolve_device(o.device)
  if not o.checkpoint then error('predict: --checkpoint FILE is required', 0) end
  local net, meta = leaves.load_checkpoint(o.checkpoint, device)
  local csv = lc.data.read_csv(o.list)
  local col_image, col_label
  for i, h in ipairs(csv.header) do
    if h == 'image' then col_image = i elseif h == 'label' then col_label = i end
  end
  if not col_image then
    error(string.format("predict: %s has no 'image' column (header: %s)", o.list,
                        table.concat(csv.header, ',')), 0)
  end
  local root = o.data_root or lc.data.leaves_root()
  local paths, names, truth, rows = {}, {}, {}, {}
  for i, r in ipairs(csv.rows) do
    names[i] = r[col_image]
    paths[i] = join(root, r[col_image])
    if col_label then truth[i] = r[col_label] end
    rows[i] = csv.lines and csv.lines[i] or (i + 1)
  end
  local tta = o.tta
  if tta == nil then tta = meta.tta end
  local size = o.size or meta.size
  local function say(...) if not o.quiet then io.stdout:write(...); io.stdout:flush() end end
  say(string.format('predicting %d images of %s with %s (%s, %d classes, input %d%s) on %s\n', #paths,
                    o.list, o.checkpoint, meta.arch or 'resnet18', #meta.classes, size,
                    tta and ', flip TTA' or '', device))
  local P = leaves.scores(paths, {net = net, size = size, mean = meta.mean, std = meta.std,
                                  device = device, batch_size = o.batch_size or 64,
                                  workers = o.workers, tta = tta, rows = rows,
                                  on_batch = leaves.reporter(o.list, o.quiet)})
  local pred = argmax_list(P)
  local labels, out_rows, correct, labelled = {}, {}, 0, 0
  for i, k in ipairs(pred) do
    labels[i] = meta.classes[k]
    out_rows[i] = {names[i], labels[i]}
    if col_label and truth[i] ~= nil and truth[i] ~= '' then
      labelled = labelled + 1
      if truth[i] == labels[i] then correct = correct + 1 end
    end
  end
  local out = o.out or 'preds.csv'
  leaves.write_csv(out, {'image', 'label'}, out_rows)
  say(string.format('wrote %s (%d rows)\n', out, #out_rows))
  local acc
  if col_label and labelled > 0 then
    acc = correct / labelled
    say(string.format('accuracy %.4f (%d images)\n', acc, labelled))
  end
  return {n = #paths, accuracy = acc, labels = labels, out = out}
end

-- ---- training ----

-- SGD with weight decay on conv and linear weights only (not on BN parameters and biases).
local function make_optimizer(net, s)
  local decay, no_decay = {}, {}
  for _, p in ipairs(net:parameters()) do
    if p:dim() > 1 then decay[#decay + 1] = p else no_decay[#no_decay + 1] = p end
  end
  local groups = {{params = decay, weight_decay = s.weight_decay}, {params = no_decay, weight_decay = 0}}
  return lc.optim.SGD(groups, {lr = s.lr, momentum = s.momentum, nesterov = s.nesterov and s.momentum > 0})
end

local function summarize_report(report)
  if type(report) ~= 'table' then return nil end
  if type(report.text) == 'string' then return report.text end
  local parts = {}
  for _, k in ipairs{'duplicate_groups', 'conflicting_groups', 'groups', 'conflicts'} do
    if report[k] ~= nil then parts[#parts + 1] = k .. ' ' .. tostring(type(report[k]) == 'table' and #report[k] or report[k]) end
  end
  return #parts > 0 and table.concat(parts, ', ') or nil
end

local function plain_settings(s)
  local out = {}
  for k, v in pairs(s) do out[k] = v end
  return out
end

function leaves.train(s)
  local device = resolve_device(s.device)
  -- under mpirun: every rank trains its share (trainer.fit), rank 0 prints and writes
  local main = lc.dist.init() == 1 or lc.dist.rank() == 0
  local say = function(...) if main then io.stdout:write(...); io.stdout:flush() end end
  local root = s.data_root or assert(lc.data.leaves_root())
  local ds = lc.data.leaves{root = root, valid_ratio = s.full_train and 0 or s.valid_ratio,
                            seed = s.split_seed, limit = s.limit}
  local K = #ds.classes
  say(string.format('classify-leaves in %s: %d classes, %d train / %d valid images%s, %d test\n',
                    root, K, #ds.train.paths, #ds.valid.paths, s.limit and (' (--limit ' .. s.limit .. ')') or '',
                    #ds.test.paths))
  local rep = summarize_report(ds.report)
  if rep then say('split: ', rep, '\n') end
  say(string.format('recipe %s: %s, input %d, batch %d, %d epochs, SGD lr %g momentum %g%s wd %g, %s schedule%s, ' ..
                    'augment %s, label smoothing %g%s%s on %s\n', s.recipe, s.arch, s.size, s.batch_size,
                    s.epochs, s.lr, s.momentum, s.nesterov and ' (nesterov)' or '', s.weight_decay, s.schedule,
                    s.warmup_epochs > 0 and string.format(' (%g warmup epochs)', s.warmup_epochs) or '',
                    s.augment, s.label_smoothing,
                    (s.mixup > 0 or s.cutmix > 0) and string.format(', mixup %g / cutmix %g', s.mixup, s.cutmix) or '',
                    s.cache and ', decoded images cached' or '', device))

  local net = lc.models.build(s.arch, {num_classes = K, in_channels = 3,
                                       zero_init_residual = s.zero_init_residual})
  local esize = s.eval_size or s.size
  if s.init and not s.resume then
    local info = lc.models.load_pretrained(net, s.init, {quiet = true})
    say(string.format('--init %s: %d tensors loaded\n', s.init, info.loaded))
    for _, m in ipairs(info.messages) do say(m, '\n') end
  end
  net:to(device)
  local opt = make_optimizer(net, s)

  local train_set = s.full_train and ds.all or ds.train
  -- a resumed run shuffles and augments with the seed the interrupted one drew
  local saved = s.resume and trainer.read_meta(trainer.checkpoint_path(s.resume))
  local loader_seed = saved and saved.meta and saved.meta.loader_seed
  local train_loader = lc.data.ImageLoader{seed = loader_seed,
    paths = train_set.paths, labels = train_set.labels, rows = train_set.rows,
    transform = leaves.train_transform(s), batch_size = s.batch_size, shuffle = true,
    drop_last = #train_set.paths > s.batch_size, workers = s.workers, cache = s.cache, device = device}
  local valid_loader
  if not s.full_train and #ds.valid.paths > 0 then
    valid_loader = lc.data.ImageLoader{
      paths = ds.valid.paths, labels = ds.valid.labels, rows = ds.valid.rows,
      transform = leaves.eval_transform(esize), batch_size = math.max(s.batch_size, 64),
      shuffle = false, workers = s.workers, cache = s.cache, device = device}
  end
  local steps = #train_loader
  local sched
  if s.schedule == 'cosine' then
    sched = trainer.warmup_cosine(opt, {total_steps = s.epochs * steps,
                                        warmup_steps = math.floor(s.warmup_epochs * steps + 0.5)})
  elseif s.warmup_epochs > 0 then
    local warm = math.floor(s.warmup_epochs * steps + 0.5)
    sched = lc.optim.LambdaLR(opt, function(step) return math.min(1, 0.01 + 0.99 * step / warm) end)
  end

  local run_dir = s.resume and (s.resume:match('%.safetensors$') and s.resume:match('^(.*)/[^/]+$') or s.resume)
  local r = run.start{script = 'resnet_leaves', settings = s, metric = 'valid_acc', dir = run_dir}
  say('run folder: ', r.dir, '\n')
  -- the honest split, for --predict RUN/valid.csv --checkpoint ... (other input sizes, TTA)
  if #ds.valid.paths > 0 and ds.valid.names then
    local vrows = {}
    for i, name in ipairs(ds.valid.names) do vrows[i] = {name, ds.classes[ds.valid.labels[i]]} end
    leaves.write_csv(r:path('valid.csv'), {'image', 'label'}, vrows)
  end
  local meta = {classes = ds.classes, arch = s.arch, in_channels = 3, size = esize, train_size = s.size, mean = leaves.MEAN,
                std = leaves.STD, tta = s.tta, recipe = s.recipe, seed = s.seed, settings = plain_settings(s),
                loader_seed = train_loader.seed}
  local mix = leaves.mix_transform(s, K)
  local progress = s.progress == 'on' or (s.progress == 'auto' and 'auto') or false
  local result = trainer.fit{
    model = net, optimizer = opt, scheduler = sched, train_loader = train_loader,
    valid_loader = valid_loader, epochs = s.epochs, device = device, run = r, meta = meta,
    label_smoothing = s.label_smoothing, batch_transform = mix, resume = s.resume,
    progress = progress, stop_after_epoch = s.stop_after_epoch, keep_open = true,
    time_budget = s.time_budget and s.time_budget > 0 and s.time_budget * 60 or nil,
    on_epochs = function(n)
      if sched and sched.set_total_steps then sched.set_total_steps(n * steps) end
    end,
    on_estimate = function(e)
      say(string.format('speed: %.0f images/sec on %s; an epoch takes about %s, the %d epoch%s about %s\n',
                        e.images_per_sec, device, trainer.duration(e.epoch_seconds or 0), s.epochs,
                        s.epochs == 1 and '' or 's', trainer.duration(e.total_seconds or 0)))
      if device == 'cpu' and s.recipe ~= 'cpu' and (e.total_seconds or 0) > 1800 then
        say('this is long on a CPU: `--recipe cpu` trains a 64-pixel model from cached images in about 25 minutes\n')
      end
    end,
  }
  if result.best_acc then
    say(string.format('best valid acc %.4f at epoch %d (%s)\n', result.best_acc, result.best_epoch, result.best_path))
  else
    say(string.format('final model: epoch %d, no validation (%s)\n', result.best_epoch, result.best_path))
  end

  local final = {best_valid_acc = result.best_acc, best_epoch = result.best_epoch}
  -- Ctrl-C or an error from here on still closes the run folder's summary
  r:guard(function()
  if not main then return end   -- rank 0 alone predicts and writes the submission
  -- the best weights predict from here on
  local best_net = leaves.load_checkpoint(result.best_path, device)
  if valid_loader and s.tta then
    local P = leaves.scores(ds.valid.paths, {net = best_net, size = esize, device = device,
                                             batch_size = math.max(s.batch_size, 64), workers = s.workers,
                                             tta = true, rows = ds.valid.rows})
    local pred, correct = argmax_list(P), 0
    for i, k in ipairs(pred) do if k == ds.valid.labels[i] then correct = correct + 1 end end
    final.valid_acc_tta = correct / #pred
    say(string.format('valid acc with flip TTA %.4f\n', final.valid_acc_tta))
  end
  if s.submission and #ds.test.paths > 0 then
    local n = s.test_limit and math.min(s.test_limit, #ds.test.paths) or #ds.test.paths
    local paths, names = {}, {}
    for i = 1, n do paths[i], names[i] = ds.test.paths[i], ds.test.names[i] end
    local t0 = run.now()
    local P = leaves.scores(paths, {net = best_net, size = esize, device = device,
                                    batch_size = math.max(s.batch_size, 64), workers = s.workers,
                                    tta = s.tta, on_batch = leaves.reporter('test set')})
    local rows = {}
    for i, k in ipairs(argmax_list(P)) do rows[i] = {names[i], ds.classes[k]} end
    local path = leaves.write_csv(r:path('submission.csv'), {'image', 'label'}, rows)
    if s.out then leaves.write_csv(s.out, {'image', 'label'}, rows) end
    say(string.format('submission: %s (%d rows%s, %.0f images/sec)%s\n', path, #rows,
                      n < #ds.test.paths and (' of ' .. #ds.test.paths .. ', --test_limit') or '',
                      n / math.max(run.now() - t0, 1e-3), s.out and (' and ' .. s.out) or ''))
    final.submission_rows = #rows
  end
  end)
  r:finish{metrics = final}
  result.final = final
  return result
end

function leaves.main(s)
  if s.predict then
    local info = lc.args.info(s)
    local tta = nil                       -- the checkpoint's choice unless --tta/--no-tta
    if info and info.explicit.tta then tta = s.tta end
    return leaves.predict{list = s.predict, data_root = s.data_root, checkpoint = s.checkpoint,
                          out = s.out or 'preds.csv', device = s.device, workers = s.workers,
                          batch_size = s.batch_size, size = s.eval_size,
                          tta = tta}
  end
  return leaves.train(s)
end

return leaves

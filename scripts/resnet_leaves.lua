-- ResNet on the Kaggle "Classify Leaves" set (176 tree species, 224x224 colour JPEGs).
--
--   luacnn scripts/resnet_leaves.lua                    the reference run (ResNet-18, input 224,
--                                                       batch 64, SGD lr 0.02, 15 epochs; a GPU run)
--   luacnn scripts/resnet_leaves.lua --recipe cpu       64 px from cached images, ~25 min on 2 cores
--   luacnn scripts/resnet_leaves.lua --recipe strong    augmentation, label smoothing, mixup/cutmix,
--                                                       cosine with warmup, momentum, weight decay,
--                                                       60 epochs, flip TTA (add --full_train to fit
--                                                       the final model on train+valid)
--   luacnn scripts/resnet_leaves.lua --limit 512 --epochs 1 --size 64    a CPU smoke run
--   luacnn scripts/resnet_leaves.lua --resume runs/resnet_leaves-...     continue a stopped run
--   luacnn scripts/resnet_leaves.lua --init resnet18.safetensors         start from torchvision weights
--   luacnn scripts/resnet_leaves.lua --predict LIST.csv --data_root DIR --checkpoint FILE --out preds.csv
--
-- Training prints a progress line and, per epoch, train loss / train acc / valid acc /
-- images per second; the run folder (runs/resnet_leaves-<time>/ or --run_dir) gets
-- metrics.csv, curves.png, summary.json, best.safetensors (best valid accuracy),
-- last.safetensors (every epoch, for --resume) and submission.csv (image,label for the 8,800
-- test images). Predict mode reads image[,label] rows (paths relative to --data_root), writes
-- image,label and, when the CSV has labels, ends with `accuracy 0.9xxx (N images)`.
-- Every setting: --help. The library parts: luacnn.leaves, luacnn.trainer, lc.models.
local lc = require 'luacnn'
local leaves = require 'luacnn.leaves'

local settings = leaves.settings()
leaves.main(settings)

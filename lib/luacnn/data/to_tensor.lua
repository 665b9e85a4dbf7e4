-- lc.data.to_tensor: uint8 image batches as float32 tensors in [0, 1] (Resize + ToTensor).
local shared = require('luacnn.data.shared')
local data = shared.data
local lc, check_options, resize_size = shared.lc, shared.check_options, shared.resize_size


-- ToTensor divides by 255 (img.float().div(255), a true division in float32, not a
-- multiplication by the reciprocal, which is 1 ulp off for some bytes: 12 / 255). The core
-- does the conversion and the division in one pass (core._F.to_unit_float).

-- torchvision's Resize (bilinear, on PIL images) then ToTensor, for a batch of uint8 images
-- (N, C, H, W) in 0..255: float32 in [0, 1] on opts.device, resized to opts.resize (n or
-- {h, w}). The resize runs on uint8 data, as PIL's does, and is bit-exact with it; on a GPU
-- device the uint8 batch moves first and is resized there (4x less to copy than floats).
function data.to_tensor(images, opts)
  opts = check_options('to_tensor', opts, {resize = true, device = true})
  if not lc().is_tensor(images) or images.dtype ~= 'uint8' or images:dim() ~= 4 then
    error('to_tensor: expected uint8 images (N, C, H, W), got '
          .. (lc().is_tensor(images) and (images.dtype .. ' ' .. tostring(images:shape())) or type(images)), 2)
  end
  local size = resize_size('to_tensor', opts.resize)
  local device = opts.device or 'cpu'
  if device ~= images.device then images = images:to(device) end
  if size and (size[1] ~= images:size(3) or size[2] ~= images:size(4)) then
    images = lc().core._F.resize_bilinear(images, size[1], size[2])
  end
  return lc().core._F.to_unit_float(images)
end

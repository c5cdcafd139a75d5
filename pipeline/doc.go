// Package pipeline feeds images to training and evaluation: dataset indexes (CUB-200-2011, Stanford
// Dogs, Stanford Cars, class folders, the synthetic fine-grained benchmark), decoding, torchvision-style
// augmentation, and a small tf.data-like dataset API (Map, Shuffle, Batched, Prefetch, Repeat, Take).
//
// Batches are float32 NHWC RGB in 0..255; normalisation with ImageNet mean/std happens in exactly one
// place, the model graph (nets), so that training, evaluation and exported SavedModels agree. The
// package uses no TensorFlow types.
//
// # Standard pipelines
//
// NewTrain and NewEval build the pipelines the trainer uses from a Config (DefaultConfig has the
// usual fine-grained recipe): records → shuffle → read, decode and transform on Config.Workers
// goroutines → batches → prefetch. Batch.Bytes views the float32 images as bytes so that
// tf.ReadTensor copies them into a tensor once; Batch.Release recycles the buffers. EvalImage and
// EvalEncoded apply the eval transforms to a single image, for prediction.
//
// Determinism: the shuffle order of an epoch depends on (Config.Seed, epoch) and the augmentation
// of an image on (Config.Seed, epoch, its index in the record list), never on goroutine
// scheduling. A run resumed at epoch e therefore sees exactly what an uninterrupted run would.
//
// # torchvision semantics
//
// The transforms reproduce torchvision 0.14 on PIL 9.4 images to the bit: Resize and
// RandomResizedCrop are PIL's antialiased bilinear resampling (fixed-point, two passes),
// CenterCrop and RandomCrop use torchvision's offset rules, RandomRotation is PIL's
// nearest-neighbour affine transform about the centre with a fill colour, and ColorJitter applies
// brightness, contrast, saturation and hue in a random order with PIL's ImageEnhance blends and
// HSV conversion. Tests compare each deterministic transform with torchvision on the same image.
// Random parameters are drawn with torchvision's distributions from this package's own
// generator (math/rand/v2 PCG), so they match torchvision in law, not draw for draw.
//
// # Decoding
//
// JPEG, PNG and GIF are decoded to 8-bit RGB as PIL's convert("RGB") does: gray is replicated,
// alpha dropped, CMYK converted, 16-bit samples reduced to their high byte. Headers are checked
// with image.DecodeConfig before any pixel is decoded, so a configurable pixel limit stops
// decompression bombs. Bad files (empty, truncated, corrupt, unsupported, too large) give a
// *BadImageError and are skipped with a warning and counted, or fail the pass
// (Config.OnBadImage); nothing panics. JPEGs are decoded by libjpeg-turbo through cgo (Debian's
// libturbojpeg0-dev, which `make setup` installs), the library PIL and TensorFlow use: identical to
// PIL, about four times faster than image/jpeg here, and able to decode large photos at 1/2, 1/4 or
// 1/8 scale when the crop allows (Config.ScaledDecode). Built with the tag noturbojpeg (or without
// cgo) JPEGs are decoded by Go's image/jpeg instead, with libjpeg's chroma upsampling and colour
// conversion added so that results are within a few units of PIL's.
package pipeline

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
// JPEG, PNG, GIF (the first frame), BMP and WebP (lossless and lossy, without animation) are
// decoded to 8-bit RGB exactly as PIL 9.4's Image.open(f).convert("RGB") does (TestDecodeFormatsMatchPIL
// compares every PNG colour type and each format with PIL): gray is replicated; alpha is dropped,
// not composited, and a transparent palette entry keeps its colour; CMYK is converted; 16-bit
// colour and grey+alpha samples keep their high byte; a 16-bit grey PNG, which PIL opens as mode
// "I", is clipped at 255 as PIL does (so most of its values come out white: convert such images to
// 8 bits first); lossy WebP's limited-range Y'CbCr is converted with libwebp's fancy upsampling and
// fixed-point arithmetic. Formats lists the formats and Extensions their file name extensions, the
// one list that dataset indexes and cmd/predict collect files by. TIFF, HEIC, AVIF and the like
// are refused with an error naming the format.
//
// Files are read with ReadImageFile (package safefile): only regular files, symbolic links
// followed, of at most Config.MaxFileBytes, in chunks that stop when the context is cancelled; a
// named pipe, a device or a directory where an image should be is a bad image at once, never a
// blocked worker or an endless read. Headers are checked with image.DecodeConfig before any pixel
// is decoded, so a configurable pixel limit stops decompression bombs; every frame of an animated
// GIF counts against it (decoders that composite frames need the canvas once a frame). Bad files
// (unreadable, not regular, empty, truncated, corrupt, unsupported, too large) give a
// *BadImageError and are skipped with a warning (one per file in a process, however many epochs
// meet it) and counted, or fail the pass (Config.OnBadImage); nothing panics. JPEGs are decoded by
// libjpeg-turbo through cgo (Debian's libturbojpeg0-dev, which `make setup` installs), the library
// PIL and TensorFlow use: identical to PIL, about four times faster than image/jpeg here, and able
// to decode large photos at 1/2, 1/4 or 1/8 scale when the crop allows (Config.ScaledDecode). Built
// with the tag noturbojpeg (or without cgo) JPEGs are decoded by Go's image/jpeg instead, with
// libjpeg's chroma upsampling and colour conversion added so that results are within a few units of
// PIL's.
package pipeline

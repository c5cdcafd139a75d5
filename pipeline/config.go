package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
)

// Jitter holds ColorJitter's parameters, as torchvision reads them: brightness, contrast and
// saturation factors are drawn uniformly from [max(0, 1-v), 1+v], the hue shift from [-Hue, Hue]
// (Hue <= 0.5); 0 turns an operation off.
type Jitter struct {
	Brightness, Contrast, Saturation, Hue float64
}

// Config is everything the standard pipelines need. DefaultConfig gives the usual fine-grained
// recipe; the trainer fills it from its YAML configuration.
//
// Train transforms, in torchvision terms and in this order:
//
//	Resize(ResizeSize) + RandomCrop(ImageSize)   or, with RandomResizedCrop,
//	RandomResizedCrop(ImageSize, Scale, Ratio)
//	RandomHorizontalFlip(FlipP)
//	RandomRotation(RotationDegrees, interpolation=NEAREST, expand=False, fill=Fill)
//	ColorJitter(Jitter.Brightness, Jitter.Contrast, Jitter.Saturation, Jitter.Hue)
//
// Eval transforms: Resize(ResizeSize) + CenterCrop(ImageSize). Both end with RGB float32 in 0..255:
// ToTensor's division by 255 and Normalize with the ImageNet mean and std happen in the model
// graph, the one place for them.
type Config struct {
	ImageSize         int        // side of the square network input, e.g. 448
	ResizeSize        int        // Resize target of the shorter side before cropping, e.g. 512; >= ImageSize
	RandomResizedCrop bool       // train with RandomResizedCrop instead of Resize + RandomCrop
	Scale             [2]float64 // RandomResizedCrop's area fraction range, e.g. {0.08, 1}
	Ratio             [2]float64 // RandomResizedCrop's aspect ratio range, e.g. {3/4, 4/3}
	FlipP             float64    // probability of a horizontal flip
	RotationDegrees   float64    // rotation angle uniform in [-RotationDegrees, RotationDegrees]; 0: none
	Fill              [3]uint8   // RGB value of the pixels a rotation uncovers
	Jitter            Jitter

	BatchSize     int
	Workers       int    // goroutines decoding and augmenting; 0: runs in the consumer's goroutine
	Prefetch      int    // batches prepared ahead of the consumer
	ShuffleBuffer int    // shuffle buffer in images; 0: the whole record list (a uniform shuffle)
	Seed          uint64 // seeds the shuffle and the augmentation, with the epoch
	// Deterministic keeps the order of the samples fixed for a seed and epoch. Without it, images
	// enter batches in the order workers finish them (each image's augmentation is the same
	// either way: it depends on the seed, the epoch and the image's index only).
	Deterministic bool

	OnBadImage string // "skip" (log a warning, count, go on) or "fail" (Next returns the error)
	MaxPixels  int    // larger images are refused from their header (decompression bombs; every frame of a GIF counts); <= 0: no limit
	// MaxFileBytes refuses larger image files before reading them; <= 0: DefaultMaxFileBytes
	// (there is no unlimited setting: the size of what is read into memory is always bounded).
	MaxFileBytes int64
	// ScaledDecode lets JPEGs be decoded at 1/2, 1/4 or 1/8 scale by libjpeg-turbo (the
	// default build; not with the tag noturbojpeg) when the reduced image is still at least as large as what the crop is resized
	// to, which saves most of the decoding time for large photos. The result then differs slightly
	// from PIL's full decode + antialiased resize (TestScaledDecode measures how much).
	ScaledDecode bool

	// Logger gets the warnings about skipped images, one per file and reason in a process (later
	// passes count the file without naming it again); nil: slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults of docs/design.md §5: 448×448 crops of images resized to
// 512, flip 0.5, rotation ±15°, ColorJitter(0.4, 0.4, 0.4, 0.1), batch 16, one worker per CPU.
func DefaultConfig() Config {
	return Config{
		ImageSize:       448,
		ResizeSize:      512,
		Scale:           [2]float64{0.08, 1},
		Ratio:           [2]float64{3.0 / 4, 4.0 / 3},
		FlipP:           0.5,
		RotationDegrees: 15,
		Jitter:          Jitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1},
		BatchSize:       16,
		Workers:         runtime.NumCPU(),
		Prefetch:        2,
		Deterministic:   true,
		OnBadImage:      "skip",
		MaxPixels:       DefaultMaxPixels,
		MaxFileBytes:    DefaultMaxFileBytes,
		ScaledDecode:    true,
	}
}

// Validate checks the configuration; the error names the first bad field.
func (c Config) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("pipeline config: %s = %v: %s", field, v, why)
	}
	switch {
	case c.ImageSize <= 0:
		return bad("ImageSize", c.ImageSize, "must be positive")
	case c.ResizeSize < c.ImageSize:
		return bad("ResizeSize", c.ResizeSize, fmt.Sprintf("must be at least ImageSize (%d)", c.ImageSize))
	case c.RandomResizedCrop && !(0 < c.Scale[0] && c.Scale[0] <= c.Scale[1]):
		return bad("Scale", c.Scale, "want 0 < min <= max")
	case c.RandomResizedCrop && !(0 < c.Ratio[0] && c.Ratio[0] <= c.Ratio[1]):
		return bad("Ratio", c.Ratio, "want 0 < min <= max")
	case c.FlipP < 0 || c.FlipP > 1:
		return bad("FlipP", c.FlipP, "must be in [0, 1]")
	case c.RotationDegrees < 0:
		return bad("RotationDegrees", c.RotationDegrees, "must be >= 0")
	case c.Jitter.Brightness < 0:
		return bad("Jitter.Brightness", c.Jitter.Brightness, "must be >= 0")
	case c.Jitter.Contrast < 0:
		return bad("Jitter.Contrast", c.Jitter.Contrast, "must be >= 0")
	case c.Jitter.Saturation < 0:
		return bad("Jitter.Saturation", c.Jitter.Saturation, "must be >= 0")
	case c.Jitter.Hue < 0 || c.Jitter.Hue > 0.5:
		return bad("Jitter.Hue", c.Jitter.Hue, "must be in [0, 0.5]")
	case c.BatchSize <= 0:
		return bad("BatchSize", c.BatchSize, "must be positive")
	case c.Workers < 0:
		return bad("Workers", c.Workers, "must be >= 0")
	case c.Prefetch < 0:
		return bad("Prefetch", c.Prefetch, "must be >= 0")
	case c.ShuffleBuffer < 0:
		return bad("ShuffleBuffer", c.ShuffleBuffer, "must be >= 0")
	case c.OnBadImage != "skip" && c.OnBadImage != "fail":
		return bad("OnBadImage", fmt.Sprintf("%q", c.OnBadImage), `want "skip" or "fail"`)
	}
	return nil
}

var errNoRecords = errors.New("pipeline: no records")

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

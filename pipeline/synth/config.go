package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
)

// version changes whenever the generator draws differently, so that old benchmarks on disk are
// regenerated rather than mixed with new ones.
const version = 1

// Config describes a benchmark. Zero Classes, PerClass, Size, TrainFraction and Quality mean their
// DefaultConfig values; FirstClass, Difficulty and Seed are taken as given (0 is a valid value of each).
type Config struct {
	Classes       int     `json:"classes"`        // number of species, 2..MaxClasses-FirstClass
	PerClass      int     `json:"per_class"`      // images per species, >= 2
	Size          int     `json:"size"`           // side of the square images in pixels, 32..2048
	Difficulty    float64 `json:"difficulty"`     // 0 (clean) .. 1 (heavy clutter, light, pose, occlusion)
	TrainFraction float64 `json:"train_fraction"` // share of each species in the training split, (0, 1)
	Seed          uint64  `json:"seed"`           // the benchmark is a function of the seed
	Quality       int     `json:"quality"`        // JPEG quality, 1..100
	Workers       int     `json:"-"`              // images rendered at once; 0 means GOMAXPROCS; never changes the output
	// FirstClass is the place in the species order of the benchmark's first species: its classes are
	// species FirstClass … FirstClass+Classes-1, so benchmarks with disjoint ranges share no species
	// (a pretraining set and a fine-grained set). Omitted from the JSON when 0, so that the hash, and
	// with it every benchmark generated before the field existed, stays what it was.
	FirstClass int `json:"first_class,omitempty"`
}

// DefaultConfig returns the benchmark the demo uses: 20 species × 60 images of 128 pixels.
func DefaultConfig() Config {
	return Config{Classes: 20, PerClass: 60, Size: 128, Difficulty: 0.5, TrainFraction: 0.5, Seed: 1, Quality: 90}
}

// withDefaults fills zero fields from DefaultConfig. Difficulty 0 and Seed 0 are valid values and
// kept.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Classes == 0 {
		c.Classes = d.Classes
	}
	if c.PerClass == 0 {
		c.PerClass = d.PerClass
	}
	if c.Size == 0 {
		c.Size = d.Size
	}
	if c.TrainFraction == 0 {
		c.TrainFraction = d.TrainFraction
	}
	if c.Quality == 0 {
		c.Quality = d.Quality
	}
	return c
}

// Validate reports the first field out of range, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Classes < 2 || c.Classes > MaxClasses:
		return fmt.Errorf("synth: classes %d is not in 2..%d", c.Classes, MaxClasses)
	case c.FirstClass < 0 || c.FirstClass > MaxClasses-c.Classes:
		return fmt.Errorf("synth: first class %d with %d classes is not in 0..%d: there are %d species, so first class + classes must be at most %d",
			c.FirstClass, c.Classes, MaxClasses-c.Classes, MaxClasses, MaxClasses)
	case c.PerClass < 2:
		return fmt.Errorf("synth: images per class %d is less than 2", c.PerClass)
	case c.Size < 32 || c.Size > 2048:
		return fmt.Errorf("synth: image size %d is not in 32..2048", c.Size)
	case !(c.Difficulty >= 0 && c.Difficulty <= 1):
		return fmt.Errorf("synth: difficulty %v is not in [0, 1]", c.Difficulty)
	case !(c.TrainFraction > 0 && c.TrainFraction < 1):
		return fmt.Errorf("synth: train fraction %v is not in (0, 1)", c.TrainFraction)
	case c.Quality < 1 || c.Quality > 100:
		return fmt.Errorf("synth: JPEG quality %d is not in 1..100", c.Quality)
	case c.Workers < 0:
		return fmt.Errorf("synth: workers %d is negative", c.Workers)
	}
	return nil
}

// hash identifies the files a config produces.
func (c Config) hash() string {
	b, _ := json.Marshal(struct {
		Version int `json:"version"`
		Config
	}{version, c.withDefaults()})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// trainCount is how many images of a species go to the training split (at least one, and at least
// one left for testing).
func (c Config) trainCount() int {
	return min(max(int(math.Round(c.TrainFraction*float64(c.PerClass))), 1), c.PerClass-1)
}

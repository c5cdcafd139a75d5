package bench_test

import (
	"context"
	"fmt"

	"github.com/finegrain/finegrain/internal/bench"
)

// ExampleRunProfile_keras sets Keras's ResNet50 beside the Go graph in a per-op profile: the Keras
// column needs the Python with TensorFlow and the path of bench/keras_train.py, and depth 50.
func ExampleRunProfile_keras() {
	spec := bench.ProfileSpec{
		Variants: []string{"none", bench.KerasVariant}, // none is the baseline
		Depth:    50, ImageSize: 112, Batch: 4, Classes: 200, Steps: 3, Top: 5,
		Settings: bench.DefaultSettings(),
		Python:   ".venv/bin/python", KerasScript: bench.KerasScript,
	}
	// With depth 50, bench.RunProfile(ctx, spec) traces both, and the profile's Markdown sets them
	// side by side; Keras has no other depth.
	spec.Depth = 18
	_, err := bench.RunProfile(context.Background(), spec)
	fmt.Println(err)
	// Output:
	// profile: variant keras is Keras's ResNet50, but depth is 18: want 50
}

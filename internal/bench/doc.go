// Package bench measures the project against its TensorFlow peers on one machine: training steps of
// the Go graph beside Keras, SavedModel inference from Go beside Python (on the original and the
// inference-optimised export), the input pipeline beside tf.data and the machine's matrix-multiply
// peak, and per-op profiles (RunProfile) of the variants' steps beside Keras's, from TensorFlow's step
// statistics and its profiler's trace. Each Go/peer comparison runs as two processes in lockstep whose timed rounds alternate, and is
// reported as the median of the per-round ratios with their min–max (Ratio), a tie when that interval
// spans 1: on a shared machine a single ratio of two medians flips from run to run. Settings are
// never searched at one size and reported at another; every pair of settings the plan names is
// measured and reported at the plan's size.
//
// It writes the results as JSON (merged into an existing file, whose other keys stay) and the run's
// tables for BENCHMARKS.md (Tables, RunRow, Splice, AppendRow); what the figures mean is written by
// hand in that file. cmd/bench runs it (make bench, make bench-quick); the Python peers live in
// bench/*.py.
package bench

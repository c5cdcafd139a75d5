// Package bench measures the project against its TensorFlow peers on one machine: training steps of
// the Go graph, SavedModel inference, the input pipeline and the machine's matrix-multiply peak, and
// writes the results as JSON and as BENCHMARKS.md. cmd/bench runs it (make bench, make bench-quick);
// the Python peers live in bench/*.py.
package bench

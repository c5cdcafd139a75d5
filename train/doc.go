// Package train turns a configuration into a trained model: it resolves configurations (configs/*.yaml,
// environment, overrides), builds the training graph once (model, loss, gradients, optimiser; a second,
// inference head shares the variables for evaluation), runs the epoch loop over the input pipeline and
// keeps the run directory: resolved config, metrics (JSON lines, CSV, TensorBoard), atomic checkpoints
// that resume exactly, and a summary.
package train

// Package sweep runs a grid of training runs (datasets × attention variants × seeds, plus shared
// overrides) as child processes of the trainer, one run directory each: it skips runs that finished
// (RUN/summary.json exists), resumes interrupted ones (RUN/checkpoints holds a checkpoint), runs up to N
// at a time, logs each run to RUN/train.log, and forwards cancellation to the children as SIGINT so they
// checkpoint before they exit.
package sweep

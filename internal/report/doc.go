// Package report gathers the run directories of a sweep (RUN/summary.json, RUN/config.yaml,
// RUN/metrics.jsonl) into the layout of the paper's Table 1 (rows datasets, columns attention variants,
// cells mean ± sample standard deviation of the test top-1 accuracy over seeds, the best of each row
// marked) as Markdown and CSV, adds each variant's paired difference to the plain ResNet (same seed,
// dataset and settings; mean and standard error over seeds, for the selected checkpoint and the last
// epoch), and draws PNG plots with gonum.org/v1/plot: accuracy per column and dataset, and training
// curves per column.
//
// A row is a dataset, known by its data root (or generated dataset) and class count, never by its format
// alone: two class-folder datasets are two rows. Runs share a cell only when their settings (config.yaml,
// else summary.json) are equal in everything but the seed; a setting besides the variant that differs
// between runs of one dataset gives each value its own column, named in the column's title.
package report

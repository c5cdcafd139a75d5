// Package report gathers the run directories of a sweep (RUN/summary.json, RUN/metrics.jsonl) into the
// layout of the paper's Table 1 (rows datasets, columns attention variants, cells mean ± sample standard
// deviation of the test top-1 accuracy over seeds, the best of each row marked) as Markdown and CSV, and
// draws PNG plots with gonum.org/v1/plot: accuracy per variant and dataset, and training curves per variant.
package report

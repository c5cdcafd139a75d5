package bench

import (
	"fmt"
	"slices"
	"strings"
)

// num formats v with prec decimals, or "n/a" when it was not measured.
func num(v float64, prec int) string {
	if v <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// ratio is a/b, 0 when either is missing.
func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return a / b
}

// pct formats a fraction as a signed percentage.
func pct(f float64) string { return fmt.Sprintf("%+.1f%%", 100*f) }

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

// secs formats a list of seconds compactly.
func secs(v []float64) string {
	parts := make([]string, len(v))
	for i, s := range v {
		parts[i] = fmt.Sprintf("%.3f", s)
	}
	return strings.Join(parts, " ")
}

// noneResult is the `none` step of the headline pair; nil when it failed.
func (res *Results) noneResult() *TrainResult {
	if len(res.TrainPairs) > 0 && res.TrainPairs[0].Go.OK() {
		return res.TrainPairs[0].Go.Result
	}
	return nil
}

// keras is the Keras peer of the headline pair; nil when it failed.
func (res *Results) keras() *KerasTrain {
	if len(res.TrainPairs) > 0 && res.TrainPairs[0].Keras.OK() && res.TrainPairs[0].Keras.ImagesPerSec > 0 {
		return &res.TrainPairs[0].Keras
	}
	return nil
}

func median(v []float64) float64 { return Timing{Seconds: v}.Median() }

// loads lists the load averages sampled around the measurements.
func (res *Results) loads() []float64 {
	var v []float64
	for _, m := range res.metas() {
		for _, l := range []float64{m.LoadBefore, m.LoadAfter} {
			if l >= 0 && m.Skipped == "" && m.What != "" {
				v = append(v, l)
			}
		}
	}
	return v
}

// metas lists every measurement's Meta in run order.
func (res *Results) metas() []Meta {
	var ms []Meta
	if len(res.Peak) > 0 {
		ms = append(ms, res.Peak[0].Meta)
	}
	for _, tp := range res.TrainPairs {
		ms = append(ms, tp.Go.Meta, tp.Keras.Meta)
	}
	for _, ip := range res.InferPairs {
		ms = append(ms, ip.Go.Meta, ip.Python.Meta)
	}
	ms = append(ms, res.PipelineGo.Meta, res.TFData.Meta)
	for _, v := range res.Variants {
		ms = append(ms, v.Meta)
	}
	for _, pk := range res.Peak[min(1, len(res.Peak)):] {
		ms = append(ms, pk.Meta)
	}
	return ms
}

// Markers of the parts of BENCHMARKS.md that cmd/bench writes; everything else in the file is
// hand-written and left alone (the serve section between <!-- serve:begin --> and <!-- serve:end -->
// belongs to scripts/bench-serve.sh).
const (
	TablesBegin = "<!-- bench:begin -->"
	TablesEnd   = "<!-- bench:end -->"
	RunsBegin   = "<!-- bench-runs:begin -->"
	RunsEnd     = "<!-- bench-runs:end -->"
)

// Splice replaces what lies between the markers begin and end of doc with content; a doc without
// them gets them, with content, at its end.
func Splice(doc, begin, end, content string) (string, error) {
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	switch {
	case i < 0 && j < 0:
		return strings.TrimRight(doc, "\n") + "\n\n" + begin + "\n" + content + end + "\n", nil
	case i < 0 || j < i:
		return "", fmt.Errorf("markers %s and %s: one is missing or they are out of order", begin, end)
	}
	return doc[:i+len(begin)] + "\n" + content + doc[j:], nil
}

// AppendRow adds row (one table line) just before the end marker of the table between begin and
// end; a doc without the markers gets the table header and the row at its end.
func AppendRow(doc, begin, end, header, row string) (string, error) {
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	switch {
	case i < 0 && j < 0:
		return Splice(doc, begin, end, header+row)
	case i < 0 || j < i:
		return "", fmt.Errorf("markers %s and %s: one is missing or they are out of order", begin, end)
	}
	return doc[:j] + row + doc[j:], nil
}

// RunsHeader is the header of the table of full runs.
const RunsHeader = "| Run (UTC) | Load, median (min–max) | Training Go/Keras img/s | Batch-1 Go/Python ms | Batch-16 Go/Python img/s | Optimised Go / original Python, batch 1 ms | same, batch 16 img/s | Step / MatMul peak |\n" +
	"|---|---|---|---|---|---|---|---|\n"

// RunRow is the run's line in the table of full runs: its headline ratios with their intervals.
func (res *Results) RunRow() string {
	l := res.loads()
	load := "n/a"
	if len(l) > 0 {
		load = fmt.Sprintf("%.1f (%.1f–%.1f) on %d CPUs", median(l), slices.Min(l), slices.Max(l), res.Machine.NumCPU)
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", res.Started.Format("2006-01-02 15:04"), load,
		res.TrainRatio, res.InferB1Ratio, res.InferB16Ratio, res.InferOptB1Ratio, res.InferOptB16Ratio, num(res.PeakFraction, 2))
}

// Tables renders the run's measurements as the Markdown tables cmd/bench writes into BENCHMARKS.md
// between TablesBegin and TablesEnd. What they mean is written by hand around them.
func (res *Results) Tables() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := res.Machine
	w("_Written by `%s` (`cmd/bench`) at %s UTC, %s mode; the measurements took %.0f s. Raw numbers: `bench/results.json`._\n\n",
		res.Command, res.Started.Format("2006-01-02 15:04"), res.Mode, res.DurationSeconds)
	w("| Machine | |\n|---|---|\n")
	w("| CPU | %s (%s), %d CPUs, %.1f GiB |\n", orNA(m.CPU), strings.Join(m.CPUFlags, ", "), m.NumCPU, m.MemoryGiB)
	w("| TensorFlow (Go / Python), Keras, Go | %s / %s, %s, %s |\n", orNA(m.TensorFlow), orNA(res.PythonTF), orNA(res.KerasVersion), m.GoVersion)
	if l := res.loads(); len(l) > 0 {
		w("| Load average (1 min) | min %.1f, median %.1f, max %.1f over %d samples |\n", slices.Min(l), median(l), slices.Max(l), len(l))
	}
	if res.PeersSkipped {
		w("\nNo Python with TensorFlow: the peers were not measured (run `make pyenv`).\n")
	}

	w("\n### Headline ratios\n\n")
	w("Median of the per-pair ratios, with the min–max of the pairs; **tie** when that interval spans 1.\n\n")
	w("| Measure | Go / peer | Verdict |\n|---|---|---|\n")
	w("| Training img/s, Go / Keras (%s, jit_compile off) | %s | %s |\n", res.Settings, res.TrainRatio, verdict(res.TrainRatio, true))
	w("| Inference batch-1 ms, Go / Python (original SavedModel) | %s | %s |\n", res.InferB1Ratio, verdict(res.InferB1Ratio, false))
	w("| Inference batch-16 img/s, Go / Python (original SavedModel) | %s | %s |\n", res.InferB16Ratio, verdict(res.InferB16Ratio, true))
	w("| Inference batch-1 ms, Go optimised / Python original | %s | %s |\n", res.InferOptB1Ratio, verdict(res.InferOptB1Ratio, false))
	w("| Inference batch-16 img/s, Go optimised / Python original | %s | %s |\n", res.InferOptB16Ratio, verdict(res.InferOptB16Ratio, true))
	w("| Input pipeline img/s, Go / tf.data (one run each) | %s | |\n", num(ratio(res.PipelineImgSGo, res.PipelineImgSTFData), 2))
	w("| Training step GFLOP/s / MatMul peak (wall; per CPU-second) | %s; %s | |\n", num(res.PeakFraction, 2), num(res.PeakFractionCPU, 2))

	res.trainSection(w)
	res.inferSection(w)
	res.pipelineSection(w)
	res.flopSection(w)
	res.profileSection(w)
	res.rawSection(w)
	return b.String()
}

func (res *Results) trainSection(w func(string, ...any)) {
	p := res.Plan
	w("\n### Training step, %d×%d, batch %d, %d paired steps\n\n", p.Train.ImageSize, p.Train.ImageSize, p.Train.Batch, p.Train.Steps)
	w("| Pair | Run | img/s | step s (median) | steps s (in pair order) | GFLOP/s | GFLOP per CPU-s | first step s | Go/Keras img/s per pair |\n")
	w("|---|---|---:|---:|---|---:|---:|---:|---|\n")
	for i, tp := range res.TrainPairs {
		pair := fmt.Sprintf("%d: %s / jit_compile=%v", i+1, tp.Pair.Go, tp.Pair.KerasXLA)
		if g := tp.Go; g.OK() && g.Result != nil {
			r := g.Result
			w("| %s | Go `none` | %.2f | %.2f | %s | %.1f | %.1f | %.1f | %s |\n", pair, r.ImagesPerSec, r.Step.Median(), secs(r.Step.Seconds),
				r.GFLOPs, r.GFLOPsPerCPUSecond, r.FirstStepSeconds, tp.Ratio)
		} else {
			w("| %s | Go `none` | failed: %s | | | | | | |\n", pair, oneLine(g.Error))
		}
		if k := tp.Keras; k.OK() {
			w("| %s | Keras ResNet50 | %.2f | %.2f | %s | %.1f | %.1f | %.1f | |\n", pair, k.ImagesPerSec, k.Step.Median(), secs(k.Step.Seconds),
				k.GFLOPs, k.GFLOPsPerCPUSecond, k.FirstStepSeconds)
		} else {
			w("| %s | Keras ResNet50 | failed: %s | | | | | | |\n", pair, oneLine(k.Error))
		}
	}
	if none, k := res.noneResult(), res.keras(); none != nil && k != nil {
		w("\nModels: Go (torchvision layout) %.3f GMAC and %.2f M parameters per image; Keras %.3f GMAC and %.2f M.\n",
			float64(none.ForwardMACs)/1e9, float64(none.Params)/1e6, float64(k.ForwardMACs)/1e9, float64(k.Params)/1e6)
	}

	w("\n### Attention variants, each beside `none` in one process (%s)\n\n", res.Settings)
	w("| Variant | img/s | step s (median) | `none` beside it, img/s | overhead (wall) | overhead (CPU) | params (M) | GMAC/img | load |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, g := range res.Variants {
		names := g.Attention[min(1, len(g.Attention)):]
		switch {
		case g.Skipped != "":
			for _, n := range names {
				w("| `%s` | skipped: %s | | | | | | | |\n", n, g.Skipped)
			}
			continue
		case !g.OK() || len(g.Results) != len(g.Attention):
			for _, n := range names {
				w("| `%s` | failed: %s | | | | | | | %.1f |\n", n, oneLine(lastLines(g.Error, 1)), g.LoadBefore)
			}
			continue
		}
		wall, cpu := g.Overheads()
		none := g.Results[0]
		for i, r := range g.Results[1:] {
			w("| `%s` | %.2f | %.2f | %.2f | %s | %s | %.2f | %.3f | %.1f |\n", r.Spec.Attention, r.ImagesPerSec, r.Step.Median(),
				none.ImagesPerSec, pct(wall[i]), pct(cpu[i]), float64(r.Params)/1e6, float64(r.ForwardMACs)/1e9, g.LoadBefore)
		}
	}
}

// profileSection writes each per-op profile's tables, or why it is missing.
func (res *Results) profileSection(w func(string, ...any)) {
	for _, pr := range res.Profiles {
		switch {
		case pr.Skipped != "":
			w("\n### %s\n\nSkipped: %s.\n", pr.What, pr.Skipped)
		case !pr.OK() || pr.Result == nil:
			w("\n### %s\n\nFailed: %s\n", pr.What, oneLine(lastLines(pr.Error, 1)))
		default:
			w("\n%s", pr.Result.Markdown())
		}
	}
}

func (res *Results) flopSection(w func(string, ...any)) {
	w("\n### Training step against the MatMul peak (%d×%d float32, best of %d runs)\n\n", res.Plan.Peak.N, res.Plan.Peak.N, res.Plan.Peak.Runs)
	w("| | GFLOP/s (wall) | GFLOP per CPU-second |\n|---|---:|---:|\n")
	for _, pk := range res.Peak {
		if pk.OK() && pk.Result != nil {
			w("| %s | %.1f (median %.1f) | %.1f |\n", pk.What, pk.Result.GFLOPs, pk.Result.MedianGFLOPs, pk.Result.GFLOPsPerCPUSecond)
		} else {
			w("| %s | failed: %s | |\n", pk.What, oneLine(pk.Error))
		}
	}
	w("| Training step, `none` (headline pair) | %s | %s |\n", num(res.StepGFLOPs, 1), num(res.StepGFLOPsPerCPUSecond, 1))
	w("| **Fraction of the peak** | **%s** | **%s** |\n", num(res.PeakFraction, 2), num(res.PeakFractionCPU, 2))
}

func (res *Results) inferSection(w func(string, ...any)) {
	inf := res.Plan.Infer
	w("\n### Inference, ResNet-%d `%s` at %d×%d, %d paired rounds\n\n", inf.Depth, inf.Attention, inf.ImageSize, inf.ImageSize, inf.Iters)
	w("Median ms per call (images/s). Ratios pair Go `Predict` with Python `numpy`, round by round.\n\n")
	w("| Pair | Batch | Go Predict | Go PredictTensor | Python numpy | Python tensor | Python signature | Go / Python per pair |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, ip := range res.InferPairs {
		if !ip.Go.OK() && ip.Go.Result == nil {
			w("| %s | | failed: %s | | | | | |\n", ip.Pair, oneLine(ip.Go.Error))
			continue
		}
		var goB []InferBatch
		if ip.Go.Result != nil {
			goB = ip.Go.Result.Batches
		}
		for _, n := range inf.Batches {
			cell := func(t Timing) string {
				if len(t.Seconds) == 0 {
					return "n/a"
				}
				return fmt.Sprintf("%.1f (%.1f)", 1000*t.Median(), t.Rate(float64(n)))
			}
			row := []string{"n/a", "n/a", "n/a", "n/a", "n/a", ""}
			for _, b := range goB {
				if b.Batch == n {
					row[0], row[1] = cell(b.Predict), cell(b.Tensor)
				}
			}
			for _, b := range ip.Python.Batches {
				if b.Batch == n {
					row[2], row[3], row[4] = cell(b.Numpy), cell(b.Tensor), cell(b.Signature)
				}
			}
			switch n {
			case 1:
				row[5] = "ms " + ip.B1.String()
			case 16:
				row[5] = "img/s " + ip.B16.String()
			}
			w("| %s | %d | %s |\n", ip.Pair, n, strings.Join(row, " | "))
		}
		if e := ip.Python.Error; e != "" {
			w("| %s | | | | Python failed: %s | | | |\n", ip.Pair, oneLine(e))
		}
	}
}

func (res *Results) pipelineSection(w func(string, ...any)) {
	pl := res.Plan.Pipeline
	w("\n### Input pipeline, %d images at %d×%d, %d workers (one run each)\n\n", pl.Images, pl.ImageSize, pl.ImageSize, pl.Workers)
	w("| | img/s | images | seconds |\n|---|---:|---:|---:|\n")
	if g := res.PipelineGo; g.OK() && g.Result != nil {
		w("| Go (%s) | %.1f | %d | %.2f |\n", g.Result.JPEGDecoder, g.Result.ImagesPerSec, g.Result.Images, g.Result.Seconds)
	} else {
		w("| Go | failed: %s | | |\n", oneLine(g.Error))
	}
	if t := res.TFData; t.OK() {
		w("| tf.data | %.1f | %d | %.2f |\n", t.ImagesPerSec, t.Images, t.Seconds)
	} else {
		w("| tf.data | failed: %s | | |\n", oneLine(t.Error))
	}
	w("| Training step consumes (Go `none`) | %s | | |\n", num(res.TrainImgSGo, 2))
}

func (res *Results) rawSection(w func(string, ...any)) {
	w("\n### Raw measurements\n\n")
	w("| Measurement | load before → after | process s | timed runs (s) |\n|---|---|---:|---|\n")
	row := func(m Meta, runs string) {
		switch {
		case m.What == "":
			return
		case m.Skipped != "":
			w("| %s | | | skipped: %s |\n", m.What, m.Skipped)
		case m.Error != "":
			w("| %s | %.1f → %.1f | %.1f | failed: %s |\n", m.What, m.LoadBefore, m.LoadAfter, m.WallSeconds, oneLine(m.Error))
		default:
			w("| %s | %.1f → %.1f | %.1f | %s |\n", m.What, m.LoadBefore, m.LoadAfter, m.WallSeconds, runs)
		}
	}
	peakRow := func(pk PeakRun) {
		if pk.Result != nil {
			row(pk.Meta, secs(pk.Result.Run.Seconds))
		} else {
			row(pk.Meta, "")
		}
	}
	if len(res.Peak) > 0 {
		peakRow(res.Peak[0])
	}
	for _, tp := range res.TrainPairs {
		if tp.Go.Result != nil {
			row(tp.Go.Meta, secs(tp.Go.Result.Step.Seconds))
		} else {
			row(tp.Go.Meta, "")
		}
		row(tp.Keras.Meta, secs(tp.Keras.Step.Seconds))
	}
	for _, ip := range res.InferPairs {
		var parts []string
		if r := ip.Go.Result; r != nil {
			for _, b := range r.Batches {
				parts = append(parts, fmt.Sprintf("batch %d Predict: %s; PredictTensor: %s", b.Batch, secs(b.Predict.Seconds), secs(b.Tensor.Seconds)))
			}
		}
		row(ip.Go.Meta, strings.Join(parts, "; "))
		parts = nil
		for _, b := range ip.Python.Batches {
			parts = append(parts, fmt.Sprintf("batch %d numpy: %s; tensor: %s; signature: %s", b.Batch, secs(b.Numpy.Seconds), secs(b.Tensor.Seconds), secs(b.Signature.Seconds)))
		}
		row(ip.Python.Meta, strings.Join(parts, "; "))
	}
	if r := res.PipelineGo.Result; r != nil {
		row(res.PipelineGo.Meta, fmt.Sprintf("%d images in %.3f", r.Images, r.Seconds))
	} else {
		row(res.PipelineGo.Meta, "")
	}
	row(res.TFData.Meta, fmt.Sprintf("%d images in %.3f", res.TFData.Images, res.TFData.Seconds))
	for _, g := range res.Variants {
		var parts []string
		for _, r := range g.Results {
			parts = append(parts, fmt.Sprintf("%s: %s", r.Spec.Attention, secs(r.Step.Seconds)))
		}
		row(g.Meta, strings.Join(parts, "; "))
	}
	for _, pk := range res.Peak[min(1, len(res.Peak)):] {
		peakRow(pk)
	}
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

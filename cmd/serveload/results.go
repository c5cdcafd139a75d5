package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/atomicfile"
	"github.com/finegrain/finegrain/internal/bench"
)

// modelShape is the input side and number of classes of the SavedModel in dir.
func modelShape(dir string) (size, classes int, err error) {
	m, err := exported.Load(dir)
	if err != nil {
		return 0, 0, err
	}
	defer m.Close()
	return m.InputSize(), m.NumClasses(), nil
}

// Markers of the serve section of BENCHMARKS.md.
const (
	mdBegin = "<!-- serve:begin -->"
	mdEnd   = "<!-- serve:end -->"
)

// keys are the figures merged into bench/results.json.
func (r *results) keys() map[string]any {
	k := map[string]any{
		"serve_img_s_go":            r.Go.ImgS,
		"serve_img_s_go_batched":    r.GoBatched.ImgS,
		"serve_img_s_python":        r.Python.ImgS,
		"serve_p99_ms_go":           r.Go.P99MS,
		"serve_p99_ms_go_batched":   r.GoBatched.P99MS,
		"serve_p99_ms_python":       r.Python.P99MS,
		"serve_ratio_img_s":         r.Ratio.ImgS,
		"serve_ratio_img_s_batched": r.Ratio.ImgSBatched,
		"serve_ratio_p99":           r.Ratio.P99,
		"serve_ratio_p99_batched":   r.Ratio.P99Batched,
		"serve_details":             r,
	}
	if r.Memory != nil && len(r.Memory.RSSMiB) > 0 {
		k["serve_rss_mib_start"] = r.Memory.RSSMiB[0]
		k["serve_rss_mib_end"] = r.Memory.RSSMiB[len(r.Memory.RSSMiB)-1]
	}
	return k
}

// writeResults merges the keys into -out and replaces the serve section of -md.
func writeResults(o *options, r *results) error {
	if o.out != "" {
		update, err := json.Marshal(r.keys())
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		old, err := os.ReadFile(o.out)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("results %s: %w", o.out, err)
		}
		merged, err := bench.MergeJSON(old, update)
		if err != nil {
			return fmt.Errorf("results %s: %w", o.out, err)
		}
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return fmt.Errorf("results %s: %w", o.out, err)
		}
		if err := atomicfile.Write(o.out, merged); err != nil {
			return fmt.Errorf("results %s: %w", o.out, err)
		}
	}
	if o.md != "" {
		old, err := os.ReadFile(o.md)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("markdown %s: %w", o.md, err)
		}
		out, err := spliceSection(old, r.markdown())
		if err != nil {
			return fmt.Errorf("markdown %s: %w", o.md, err)
		}
		if err := atomicfile.Write(o.md, out); err != nil {
			return fmt.Errorf("markdown %s: %w", o.md, err)
		}
	}
	return nil
}

// spliceSection replaces what lies between the serve markers of doc with section, or appends the
// markers and section at the end when doc has none. Everything outside the markers is kept as is.
func spliceSection(doc []byte, section string) ([]byte, error) {
	block := mdBegin + "\n" + strings.TrimSpace(section) + "\n" + mdEnd
	b, e := bytes.Index(doc, []byte(mdBegin)), bytes.Index(doc, []byte(mdEnd))
	switch {
	case b < 0 && e < 0:
		out := bytes.TrimRight(doc, "\n")
		if len(out) > 0 {
			out = append(out, "\n\n"...)
		}
		return append(append(out, block...), '\n'), nil
	case b < 0 || e < b || bytes.Count(doc, []byte(mdBegin)) != 1 || bytes.Count(doc, []byte(mdEnd)) != 1:
		return nil, fmt.Errorf("want one %s followed by one %s, or neither", mdBegin, mdEnd)
	}
	out := append([]byte{}, doc[:b]...)
	out = append(out, block...)
	return append(out, doc[e+len(mdEnd):]...), nil
}

// markdown is the serve section of BENCHMARKS.md.
func (r *results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Serving: cmd/serve against a Python server\n\n")
	fmt.Fprintf(&b, "Written by `cmd/serveload` (`bash scripts/bench-serve.sh`, run by `make bench`) on %s: %s; %d concurrent clients on loopback, "+
		"each sending one `serving_default` image per request (TensorFlow Serving's row format, JSON numbers) and waiting for the answer; "+
		"%d requests per run; %d rounds of Go unbatched, Python, Go batched (`-enable_batching -max_batch_size %d -batch_timeout_micros %d`), Python; "+
		"every server with %d intra-op and %d inter-op TensorFlow threads on %d CPUs (1-minute load %.1f → %.1f). "+
		"The Python server is `scripts/serve_baseline.py` (http.server, one thread per connection, TensorFlow's Python API on the same SavedModel). "+
		"Largest difference between the Go and Python probabilities on the check images: %.2g. Ratios are medians of the per-pair ratios.\n\n",
		r.Date, r.Model, r.Clients, r.Requests, len(r.Rounds), r.MaxBatch, r.BatchMicros, r.Intra, r.Inter, r.CPUs, r.Load[0], r.Load[1], r.Agree)
	b.WriteString("| Server | images/s | p50 ms | p95 ms | p99 ms | images/s ÷ Python | p99 ÷ Python |\n|---|---:|---:|---:|---:|---:|---:|\n")
	row := func(name string, s runStats, ri, rp float64) {
		rs, ps := "", ""
		if !math.IsNaN(ri) {
			rs, ps = fmt.Sprintf("%.2f", ri), fmt.Sprintf("%.2f", rp)
		}
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %.1f | %.1f | %s | %s |\n", name, s.ImgS, s.P50MS, s.P95MS, s.P99MS, rs, ps)
	}
	row("Go, no batching", r.Go, r.Ratio.ImgS, r.Ratio.P99)
	row("Go, dynamic batching", r.GoBatched, r.Ratio.ImgSBatched, r.Ratio.P99Batched)
	row("Python", r.Python, math.NaN(), math.NaN())
	b.WriteString("\nEvery run, in order (images/s, p99 ms):\n\n| Round | Go | Python | Go batched | Python |\n|---|---|---|---|---|\n")
	for i, rd := range r.Rounds {
		cell := func(s runStats) string { return fmt.Sprintf("%.1f, %.1f", s.ImgS, s.P99MS) }
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", i+1, cell(rd.Go), cell(rd.Python1), cell(rd.GoBatched), cell(rd.Python2))
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(&b, "\nMemory: the Go server's resident set over %d more requests (%.0f s), before and after every %d: %s MiB.\n",
			m.Requests, m.Seconds, m.Every, formatList(m.RSSMiB, "%.0f"))
	}
	return b.String()
}

// summary is the figures for the terminal.
func (r *results) summary() string {
	s := fmt.Sprintf("serve: Go %.1f img/s p99 %.1f ms; Go batched %.1f img/s p99 %.1f ms; Python %.1f img/s p99 %.1f ms; "+
		"median ratios Go/Python: %.2f× (batched %.2f×) images/s, %.2f× (batched %.2f×) p99\n",
		r.Go.ImgS, r.Go.P99MS, r.GoBatched.ImgS, r.GoBatched.P99MS, r.Python.ImgS, r.Python.P99MS,
		r.Ratio.ImgS, r.Ratio.ImgSBatched, r.Ratio.P99, r.Ratio.P99Batched)
	if m := r.Memory; m != nil {
		s += fmt.Sprintf("serve: Go RSS over %d requests: %s MiB\n", m.Requests, formatList(m.RSSMiB, "%.0f"))
	}
	return s
}

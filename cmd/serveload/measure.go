package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// results are everything one serveload run measured.
type results struct {
	Date        string     `json:"date"`
	Model       string     `json:"model"`
	Size        int        `json:"image_size"`
	Classes     int        `json:"classes"`
	Clients     int        `json:"clients"`
	Requests    int        `json:"requests_per_run"`
	Intra       int        `json:"intra_op_threads"`
	Inter       int        `json:"inter_op_threads"`
	MaxBatch    int        `json:"max_batch_size"`
	BatchMicros int        `json:"batch_timeout_micros"`
	CPUs        int        `json:"cpus"`
	Load        [2]float64 `json:"load_before_after"` // 1-minute load average
	Rounds      []round    `json:"rounds"`
	Memory      *memoryRun `json:"memory,omitempty"`
	Agree       float64    `json:"max_abs_diff_go_python"` // largest |Go − Python| probability on the check images
	Seconds     float64    `json:"seconds"`
	Go          runStats   `json:"go_median"`
	GoBatched   runStats   `json:"go_batched_median"`
	Python      runStats   `json:"python_median"`
	Ratio       ratios     `json:"ratio"`
	Commands    []string   `json:"commands"`
}

// round is one Go unbatched, Python, Go batched, Python sequence.
type round struct {
	Go, Python1, GoBatched, Python2 runStats
}

// ratios are medians over the rounds of the per-pair ratios: images/s Go÷Python (above 1: Go is
// faster) and p99 Go÷Python (below 1: Go's tail is shorter).
type ratios struct {
	ImgS        float64 `json:"img_s"`
	ImgSBatched float64 `json:"img_s_batched"`
	P99         float64 `json:"p99"`
	P99Batched  float64 `json:"p99_batched"`
}

// memoryRun samples the Go server's resident memory across a long run.
type memoryRun struct {
	Requests int       `json:"requests"`
	Failed   int       `json:"failed"`
	Every    int       `json:"every"`
	RSSMiB   []float64 `json:"rss_mib"` // before, then after every Every requests
	Seconds  float64   `json:"seconds"`
}

func loadavg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianRun is the run of median images/s, with the medians of the latencies.
func medianRun(runs []runStats) runStats {
	pick := func(f func(runStats) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		return median(v)
	}
	out := runStats{Server: runs[0].Server}
	for _, r := range runs {
		out.Requests += r.Requests
		out.Failed += r.Failed
	}
	out.ImgS = pick(func(r runStats) float64 { return r.ImgS })
	out.P50MS = pick(func(r runStats) float64 { return r.P50MS })
	out.P95MS = pick(func(r runStats) float64 { return r.P95MS })
	out.P99MS = pick(func(r runStats) float64 { return r.P99MS })
	out.Seconds = pick(func(r runStats) float64 { return r.Seconds })
	return out
}

// measure starts the servers, runs the rounds and the memory run.
func measure(ctx context.Context, o *options, log io.Writer) (*results, error) {
	t0 := time.Now()
	res := &results{Date: time.Now().UTC().Format(time.RFC3339), Clients: o.clients, Requests: o.requests, Intra: o.intra, Inter: o.inter,
		MaxBatch: o.maxBatch, BatchMicros: o.batchMicros, CPUs: runtime.NumCPU()}
	res.Load[0] = loadavg()
	model := o.model
	if model == "" {
		tmp, err := os.MkdirTemp("", "serveload-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		fmt.Fprintf(log, "serveload: exporting a %s-ResNet%d ×%g model at %d px with random weights\n", o.variant, o.depth, o.width, o.size)
		if model, err = exportModel(ctx, o, tmp); err != nil {
			return nil, err
		}
		res.Model = fmt.Sprintf("%s-ResNet%d ×%g, %d px, %d classes, random weights", o.variant, o.depth, o.width, o.size, o.classes)
	} else {
		res.Model = o.model
	}
	size, classes, err := modelShape(model)
	if err != nil {
		return nil, err
	}
	res.Size, res.Classes = size, classes
	if o.model != "" {
		res.Model = fmt.Sprintf("%s (%d px, %d classes)", o.model, size, classes)
	}

	threads := []string{"-tensorflow_intra_op_parallelism", strconv.Itoa(o.intra), "-tensorflow_inter_op_parallelism", strconv.Itoa(o.inter)}
	common := append([]string{o.serve, "-model_base_path", model, "-model_name", "m", "-rest_api_host", "127.0.0.1", "-rest_api_port", "0",
		"-file_system_poll_wait_seconds", "0", "-max_inflight", strconv.Itoa(4 * o.clients)}, threads...)
	argvs := [][]string{
		common,
		append(slices.Clone(common), "-enable_batching", "-max_batch_size", strconv.Itoa(o.maxBatch), "-batch_timeout_micros", strconv.Itoa(o.batchMicros)),
		{o.python, o.baseline, "--dir", model, "--name", "m", "--port", "0", "--intra", strconv.Itoa(o.intra), "--inter", strconv.Itoa(o.inter)},
	}
	names := [3]string{"go", "go-batched", "python"}
	var procs [3]*process
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for i, argv := range argvs {
		fmt.Fprintf(log, "serveload: starting %s: %s\n", names[i], strings.Join(argv, " "))
		res.Commands = append(res.Commands, strings.Join(argv, " "))
		re, stdout := goAddr, false
		if i == 2 {
			re, stdout = pyAddr, true
		}
		if procs[i], err = start(ctx, names[i], re, stdout, argv, []string{"TF_CPP_MIN_LOG_LEVEL=2"}); err != nil {
			return nil, err
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * o.clients, MaxConnsPerHost: 4 * o.clients}}
	defer client.CloseIdleConnections()
	bodies := requestBodies(o.seed, size, 16)
	check := func(b []byte) error { _, err := probabilities(b, classes); return err }
	url := func(p *process) string { return p.url + "/v1/models/m:predict" }

	// The servers answer the same: Go's answers against Python's on the request images.
	for _, body := range bodies[:4] {
		var probs [3][]float64
		for i, p := range procs {
			b, err := postRaw(ctx, client, url(p), body)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			if probs[i], err = probabilities(b, classes); err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
		}
		for i := range 2 {
			for k := range probs[i] {
				res.Agree = math.Max(res.Agree, math.Abs(probs[i][k]-probs[2][k]))
			}
		}
	}
	if res.Agree > 1e-3 {
		return nil, fmt.Errorf("the Go and Python servers disagree: probabilities differ by %.3g", res.Agree)
	}

	// Warm-up: every server answers a short run first (TensorFlow's first runs at each batch size).
	for _, p := range procs {
		load(ctx, client, url(p), bodies, o.clients, 4*o.clients, o.runTimeout, check, nil)
	}
	one := func(p *process) (runStats, error) {
		st := load(ctx, client, url(p), bodies, o.clients, o.requests, o.runTimeout, check, nil)
		st.Server = p.name
		fmt.Fprintf(log, "serveload: %-10s %4d requests in %5.1fs: %6.1f img/s, p50 %6.1f ms, p95 %6.1f ms, p99 %6.1f ms, %d failed\n",
			p.name, st.Requests, st.Seconds, st.ImgS, st.P50MS, st.P95MS, st.P99MS, st.Failed)
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		if st.Failed > 0 || st.Requests == 0 {
			return st, fmt.Errorf("%s: %d of %d requests failed: %s", p.name, st.Failed, st.Failed+st.Requests, st.FirstErr)
		}
		return st, nil
	}
	var goRuns, gbRuns, pyRuns []runStats
	var rImgS, rImgSB, rP99, rP99B []float64
	for k := range o.pairs {
		fmt.Fprintf(log, "serveload: round %d of %d\n", k+1, o.pairs)
		var r round
		for _, step := range []struct {
			p   *process
			dst *runStats
		}{{procs[0], &r.Go}, {procs[2], &r.Python1}, {procs[1], &r.GoBatched}, {procs[2], &r.Python2}} {
			if *step.dst, err = one(step.p); err != nil {
				return nil, err
			}
		}
		res.Rounds = append(res.Rounds, r)
		goRuns, gbRuns, pyRuns = append(goRuns, r.Go), append(gbRuns, r.GoBatched), append(pyRuns, r.Python1, r.Python2)
		rImgS, rImgSB = append(rImgS, r.Go.ImgS/r.Python1.ImgS), append(rImgSB, r.GoBatched.ImgS/r.Python2.ImgS)
		rP99, rP99B = append(rP99, r.Go.P99MS/r.Python1.P99MS), append(rP99B, r.GoBatched.P99MS/r.Python2.P99MS)
	}
	res.Go, res.GoBatched, res.Python = medianRun(goRuns), medianRun(gbRuns), medianRun(pyRuns)
	res.Ratio = ratios{ImgS: median(rImgS), ImgSBatched: median(rImgSB), P99: median(rP99), P99Batched: median(rP99B)}

	if o.memRequests > 0 {
		if res.Memory, err = memory(ctx, o, client, procs[0], url(procs[0]), bodies, check, log); err != nil {
			return nil, err
		}
	}
	res.Load[1] = loadavg()
	res.Seconds = time.Since(t0).Seconds()
	return res, nil
}

// memory samples the server's RSS before and after every tenth of a long run.
func memory(ctx context.Context, o *options, client *http.Client, p *process, url string, bodies [][]byte, check func([]byte) error, log io.Writer) (*memoryRun, error) {
	m := &memoryRun{Requests: o.memRequests, Every: max(o.memRequests/10, 1)}
	rss, err := p.rss()
	if err != nil {
		return nil, err
	}
	m.RSSMiB = append(m.RSSMiB, float64(rss)/(1<<20))
	var mu sync.Mutex
	var sampleErr error
	fmt.Fprintf(log, "serveload: memory run: %d requests to %s\n", o.memRequests, p.name)
	st := load(ctx, client, url, bodies, o.clients, o.memRequests, 20*o.runTimeout, check, func(done int) {
		if done%m.Every != 0 {
			return
		}
		rss, err := p.rss()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			sampleErr = err
			return
		}
		m.RSSMiB = append(m.RSSMiB, float64(rss)/(1<<20))
	})
	m.Failed, m.Seconds = st.Failed, st.Seconds
	if sampleErr != nil {
		return nil, sampleErr
	}
	if st.Failed > 0 || st.Requests < o.memRequests {
		return nil, fmt.Errorf("memory run: %d answered, %d failed of %d: %s", st.Requests, st.Failed, o.memRequests, st.FirstErr)
	}
	fmt.Fprintf(log, "serveload: memory run: RSS %s MiB\n", formatList(m.RSSMiB, "%.0f"))
	return m, nil
}

func formatList(v []float64, f string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf(f, x)
	}
	return strings.Join(s, " ")
}

// postRaw sends one request and returns the body of a 200 answer.
func postRaw(ctx context.Context, client *http.Client, url string, body []byte) ([]byte, error) {
	var out []byte
	err := post(ctx, client, url, body, func(b []byte) error { out = b; return nil })
	return out, err
}

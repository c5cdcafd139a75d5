package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/finegrain/finegrain/exported"
)

// rssBytes is the process's resident set size (Linux /proc/self/status), or 0 where it cannot be read.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// heapBytes is the live heap after a collection.
func heapBytes() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// faultCase is one request of the fault test: good ones must be answered 200 with the model's own
// prediction, bad ones with a 4xx and an {"error": ...} message.
type faultCase struct {
	name, path, body string
	code             int // the status a bad request must get; 0 for a good one
	want             *exported.Prediction
}

// TestFaultsUnderLoad sends bad requests (malformed JSON, wrong shapes and dtypes, bodies over the
// limit, non-images, unknown model, version and signature, nesting bombs) mixed at random into
// concurrent good traffic, with and without dynamic batching. Every good request must get the
// in-process prediction, every bad one its 4xx with a message, and the process's live heap and
// resident memory must stay bounded across the run.
func TestFaultsUnderLoad(t *testing.T) {
	const maxBody = 1 << 20
	pix := [][]float32{testImage(3), testImage(4)}
	want := inProcess(t, pix, nil)
	pngs := [][]byte{testPNG(t, 48, 40, 3), testPNG(t, 40, 64, 4)}
	wantJPEG := inProcess(t, nil, pngs)
	b64 := base64.StdEncoding.EncodeToString
	one := func(p *exported.Prediction, i int) *exported.Prediction {
		return &exported.Prediction{Logits: p.Logits[i : i+1], Probabilities: p.Probabilities[i : i+1]}
	}
	img := nested(pix[0])
	cases := []faultCase{
		{name: "good row", path: "/v1/models/m:predict", body: `{"output_filter": ["logits", "probabilities"], "instances": [` + img + `]}`, want: one(want, 0)},
		{name: "good columnar", path: "/v1/models/m/versions/1:predict", body: `{"output_filter": ["logits", "probabilities"], "inputs": [` + nested(pix[1]) + `]}`, want: one(want, 1)},
		{name: "good b64", path: "/v1/models/m:predict", body: `{"signature_name": "predict_jpeg", "output_filter": ["logits", "probabilities"], "instances": [{"b64": "` + b64(pngs[1]) + `"}]}`, want: one(wantJPEG, 1)},

		{name: "malformed JSON", path: "/v1/models/m:predict", body: `{"instances": [` + img, code: 400},
		{name: "not JSON", path: "/v1/models/m:predict", body: "\x00\xff garbage", code: 400},
		{name: "wrong shape", path: "/v1/models/m:predict", body: `{"instances": [[[[1, 2]]]]}`, code: 400},
		{name: "wrong dtype", path: "/v1/models/m:predict", body: `{"instances": [[[["a", "b", "c"]]]]}`, code: 400},
		{name: "nesting bomb", path: "/v1/models/m:predict", body: `{"instances": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, code: 400},
		{name: "body over the limit", path: "/v1/models/m:predict", body: `{"instances": [` + strings.Repeat(img+",", 2*maxBody/len(img)) + img + `]}`, code: 413},
		{name: "not an image", path: "/v1/models/m:predict", body: `{"signature_name": "predict_jpeg", "instances": [{"b64": "` + b64([]byte("GIF89a but not really")) + `"}]}`, code: 400},
		{name: "bad base64", path: "/v1/models/m:predict", body: `{"signature_name": "predict_jpeg", "instances": [{"b64": "***"}]}`, code: 400},
		{name: "cam of text", path: "/v1/models/m:cam", body: "plain text", code: 400},
		{name: "unknown model", path: "/v1/models/nope:predict", body: `{"instances": [` + img + `]}`, code: 404},
		{name: "unknown version", path: "/v1/models/m/versions/42:predict", body: `{"instances": [` + img + `]}`, code: 404},
		{name: "unknown signature", path: "/v1/models/m:predict", body: `{"signature_name": "serving_other", "instances": [` + img + `]}`, code: 404},
	}
	rounds := 40
	if testing.Short() {
		rounds = 8
	}
	for _, batching := range []bool{false, true} {
		t.Run(fmt.Sprintf("batching=%v", batching), func(t *testing.T) {
			ts := startServer(t, versionBase(t, 1), func(o *options) {
				o.maxBody, o.maxInFlight, o.batching = maxBody, 64, batching
			})
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			defer client.CloseIdleConnections()
			run := func(seed uint64, n int) {
				const workers = 8
				var wg sync.WaitGroup
				for w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						rng := rand.New(rand.NewPCG(seed, uint64(w)))
						for range n {
							checkFault(t, client, ts.URL, cases[rng.IntN(len(cases))])
						}
					}()
				}
				wg.Wait()
			}
			run(1, 4) // warm-up: connections, batchers, TensorFlow's buffers
			heap0, rss0 := heapBytes(), rssBytes()
			run(2, rounds)
			heap1, rss1 := heapBytes(), rssBytes()
			t.Logf("%d requests: live heap %.1f → %.1f MiB, RSS %.1f → %.1f MiB", 8*rounds, mib(heap0), mib(heap1), mib(rss0), mib(rss1))
			// A leak of one request body per request would grow the heap by far more than this (the
			// bodies over the limit alone are 2 MiB each); the bounds leave room for the allocator.
			if heap1-heap0 > 32<<20 {
				t.Errorf("live heap grew by %.1f MiB over %d requests", mib(heap1-heap0), 8*rounds)
			}
			if rss0 > 0 && rss1-rss0 > 256<<20 {
				t.Errorf("RSS grew by %.1f MiB over %d requests", mib(rss1-rss0), 8*rounds)
			}
			if code, b := get(t, ts.URL+"/healthz"); code != 200 {
				t.Errorf("healthz after the run: HTTP %d %s", code, b)
			}
			if strings.Contains(ts.logs.String(), "panic") {
				t.Errorf("a handler panicked:\n%s", ts.logs.String())
			}
		})
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// checkFault sends one request of the fault test and checks its answer.
func checkFault(t *testing.T, client *http.Client, url string, c faultCase) {
	resp, err := client.Post(url+c.path, "application/json", bytes.NewReader([]byte(c.body)))
	if err != nil {
		t.Errorf("%s: %v", c.name, err)
		return
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Errorf("%s: reading the answer: %v", c.name, err)
		return
	}
	if c.code != 0 {
		var e struct{ Error string }
		if resp.StatusCode != c.code || json.Unmarshal(b, &e) != nil || e.Error == "" {
			t.Errorf("%s: HTTP %d %.200s, want %d with an error message", c.name, resp.StatusCode, b, c.code)
		}
		return
	}
	if resp.StatusCode != 200 {
		t.Errorf("%s: HTTP %d %.300s", c.name, resp.StatusCode, b)
		return
	}
	var got struct {
		Predictions []rowOutputs `json:"predictions"`
		Outputs     struct {
			Logits        [][]float32 `json:"logits"`
			Probabilities [][]float32 `json:"probabilities"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Errorf("%s: answer not JSON: %v", c.name, err)
		return
	}
	logits, probs := got.Outputs.Logits, got.Outputs.Probabilities
	for _, p := range got.Predictions {
		logits, probs = append(logits, p.Logits), append(probs, p.Probabilities)
	}
	if len(logits) != 1 || len(probs) != 1 {
		t.Errorf("%s: %d predictions, want 1: %.200s", c.name, len(logits), b)
		return
	}
	if !close32(logits[0], c.want.Logits[0]) || !close32(probs[0], c.want.Probabilities[0]) {
		t.Errorf("%s: got logits %v, want %v", c.name, logits[0], c.want.Logits[0])
	}
}

// close32 is checkClose without failing the test from a goroutine other than the test's.
func close32(got, want []float32) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if d := got[i] - want[i]; d > 1e-4 || d < -1e-4 {
			return false
		}
	}
	return true
}

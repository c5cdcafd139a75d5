package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// runStats are the figures of one run.
type runStats struct {
	Server   string  `json:"server"`
	Requests int     `json:"requests"` // answered
	Failed   int     `json:"failed"`
	Seconds  float64 `json:"seconds"`
	ImgS     float64 `json:"img_s"`
	P50MS    float64 `json:"p50_ms"`
	P95MS    float64 `json:"p95_ms"`
	P99MS    float64 `json:"p99_ms"`
	FirstErr string  `json:"first_error,omitempty"`
}

// percentile is the nearest-rank q-quantile (0 < q <= 1) of sorted values.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// load sends requests from clients concurrent clients, one request at a time each, until n requests
// have been sent or limit has passed; every answer goes through check. each, if set, is called after
// every answered request with the count so far.
func load(ctx context.Context, client *http.Client, url string, bodies [][]byte, clients, n int, limit time.Duration,
	check func([]byte) error, each func(done int)) runStats {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var next, answered atomic.Int64
	var mu sync.Mutex
	var lat []float64
	st := runStats{}
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []float64
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := post(ctx, client, url, bodies[i%int64(len(bodies))], check)
				if ctx.Err() != nil {
					return // cut off by the time limit: neither answered nor failed
				}
				if err != nil {
					mu.Lock()
					st.Failed++
					if st.FirstErr == "" {
						st.FirstErr = err.Error()
					}
					mu.Unlock()
					continue
				}
				mine = append(mine, float64(time.Since(t0))/float64(time.Millisecond))
				if d := answered.Add(1); each != nil {
					each(int(d))
				}
			}
		}()
	}
	wg.Wait()
	st.Seconds = time.Since(start).Seconds()
	slices.Sort(lat)
	st.Requests = len(lat)
	st.ImgS = float64(len(lat)) / st.Seconds
	st.P50MS, st.P95MS, st.P99MS = percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 0.99)
	return st
}

// post sends one predict request and checks the answer.
func post(ctx context.Context, client *http.Client, url string, body []byte, check func([]byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
	}
	return check(b)
}

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/testmodel"
)

const testSize = testmodel.Size // the test model's input side

var model testmodel.Model

// testModel is the package's exported test model (internal/testmodel), made on first use.
func testModel(t *testing.T) string { return model.Dir(t) }

func TestMain(m *testing.M) {
	code := m.Run()
	model.Remove()
	os.Exit(code)
}

// copyDir copies the model folder src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// versionBase makes a model base path holding the test model as the given versions.
func versionBase(t *testing.T, versions ...int) string {
	t.Helper()
	base := t.TempDir()
	for _, v := range versions {
		copyDir(t, testModel(t), filepath.Join(base, fmt.Sprint(v)))
	}
	return base
}

type testServer struct {
	*httptest.Server
	srv    *server
	models *manager
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer serves base in-process on a loopback port with the command's defaults, changed by edit.
func startServer(t *testing.T, base string, edit func(*options)) *testServer {
	t.Helper()
	o, code := parseFlags([]string{"-model_base_path", base, "-model_name", "m", "-max_inflight", "8"}, io.Discard)
	if o == nil {
		t.Fatalf("parseFlags: exit %d", code)
	}
	if edit != nil {
		edit(o)
	}
	logs := &syncBuffer{}
	srv, models, err := build(o, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		models.close()
	})
	return &testServer{Server: ts, srv: srv, models: models, logs: logs}
}

// testImage is a deterministic RGB test image as float32 pixels and as a PNG of w×h.
func testImage(seed int) []float32 {
	pix := make([]float32, testSize*testSize*3)
	for i := range pix {
		pix[i] = float32((i*7 + seed*31 + (i/97)*seed) % 256)
	}
	return pix
}

func testPNG(t *testing.T, w, h, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x*7 + seed*40), uint8(y*5 + seed*13), uint8((x+y)*3 + seed), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// nested writes pix as a JSON [S][S][3] list.
func nested(pix []float32) string {
	var b strings.Builder
	b.WriteByte('[')
	for y := range testSize {
		if y > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		for x := range testSize {
			if x > 0 {
				b.WriteByte(',')
			}
			i := (y*testSize + x) * 3
			fmt.Fprintf(&b, "[%g,%g,%g]", pix[i], pix[i+1], pix[i+2])
		}
		b.WriteByte(']')
	}
	b.WriteByte(']')
	return b.String()
}

func post(t *testing.T, url, contentType string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// inProcess is the model's own answer for images (serving_default) or encoded images (predict_jpeg).
func inProcess(t *testing.T, pix [][]float32, encoded [][]byte) *exported.Prediction {
	t.Helper()
	m, err := exported.Load(testModel(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if encoded != nil {
		p, err := m.PredictEncoded(context.Background(), encoded, exported.WithCAM())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	imgs := exported.Images{N: len(pix), Height: testSize, Width: testSize}
	for _, p := range pix {
		imgs.Pix = append(imgs.Pix, p...)
	}
	p, err := m.Predict(context.Background(), imgs, exported.WithCAM())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type rowOutputs struct {
	Logits        []float32     `json:"logits"`
	Probabilities []float32     `json:"probabilities"`
	CAM           [][][]float32 `json:"cam"`
}

// checkClose compares a served prediction with the in-process one: batches of other sizes may round
// differently, so within 1e-4.
func checkClose(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func checkRow(t *testing.T, what string, got rowOutputs, want *exported.Prediction, i int) {
	t.Helper()
	checkClose(t, what+" logits", got.Logits, want.Logits[i])
	checkClose(t, what+" probabilities", got.Probabilities, want.Probabilities[i])
	if len(got.CAM) != len(want.CAM[i]) {
		t.Fatalf("%s cam: %d rows, want %d", what, len(got.CAM), len(want.CAM[i]))
	}
	for y := range got.CAM {
		for x := range got.CAM[y] {
			checkClose(t, fmt.Sprintf("%s cam[%d][%d]", what, y, x), got.CAM[y][x], want.CAM[i][y][x])
		}
	}
}

// TestPredict posts the request formats of TensorFlow Serving's REST API, with and without dynamic
// batching, and compares the answers with the model's in-process predictions.
func TestPredict(t *testing.T) {
	pix := [][]float32{testImage(1), testImage(2)}
	want := inProcess(t, pix, nil)
	pngs := [][]byte{testPNG(t, 40, 50, 1), testPNG(t, 64, 36, 2)}
	wantJPEG := inProcess(t, nil, pngs)
	b64 := func(i int) string { return base64.StdEncoding.EncodeToString(pngs[i]) }
	for _, batching := range []bool{false, true} {
		t.Run(fmt.Sprintf("batching=%v", batching), func(t *testing.T) {
			ts := startServer(t, versionBase(t, 1), func(o *options) { o.batching = batching })
			url := ts.URL + "/v1/models/m:predict"
			t.Run("row", func(t *testing.T) {
				code, body := post(t, url, "application/json", []byte(`{"instances": [`+nested(pix[0])+`, `+nested(pix[1])+`]}`))
				if code != 200 {
					t.Fatalf("HTTP %d: %s", code, body)
				}
				var got struct{ Predictions []rowOutputs }
				if err := json.Unmarshal(body, &got); err != nil || len(got.Predictions) != 2 {
					t.Fatalf("%v: %.200s", err, body)
				}
				for i := range 2 {
					checkRow(t, fmt.Sprintf("instance %d", i), got.Predictions[i], want, i)
				}
			})
			t.Run("columnar filtered", func(t *testing.T) {
				code, body := post(t, ts.URL+"/v1/models/m/versions/1:predict", "application/json",
					[]byte(`{"signature_name": "serving_default", "output_filter": ["probabilities"], "inputs": {"images": [`+nested(pix[0])+`, `+nested(pix[1])+`]}}`))
				if code != 200 {
					t.Fatalf("HTTP %d: %s", code, body)
				}
				var got struct{ Outputs [][]float32 } // a single output: its value, unnamed
				if err := json.Unmarshal(body, &got); err != nil || len(got.Outputs) != 2 {
					t.Fatalf("%v: %.200s", err, body)
				}
				for i := range 2 {
					checkClose(t, "probabilities", got.Outputs[i], want.Probabilities[i])
				}
			})
			t.Run("b64 row", func(t *testing.T) {
				code, body := post(t, url, "application/json", []byte(`{"signature_name": "predict_jpeg", "instances": [{"b64": "`+b64(0)+`"}, {"b64": "`+b64(1)+`"}]}`))
				if code != 200 {
					t.Fatalf("HTTP %d: %s", code, body)
				}
				var got struct{ Predictions []rowOutputs }
				if err := json.Unmarshal(body, &got); err != nil || len(got.Predictions) != 2 {
					t.Fatalf("%v: %.200s", err, body)
				}
				for i := range 2 {
					checkRow(t, fmt.Sprintf("image %d", i), got.Predictions[i], wantJPEG, i)
				}
			})
			t.Run("b64 columnar", func(t *testing.T) {
				code, body := post(t, url, "application/json", []byte(`{"signature_name": "predict_jpeg", "inputs": {"image_bytes": [{"b64": "`+b64(1)+`"}]}}`))
				if code != 200 {
					t.Fatalf("HTTP %d: %s", code, body)
				}
				var got struct {
					Outputs struct {
						Logits, Probabilities [][]float32
						CAM                   [][][][]float32 `json:"cam"`
					}
				}
				if err := json.Unmarshal(body, &got); err != nil || len(got.Outputs.Probabilities) != 1 {
					t.Fatalf("%v: %.200s", err, body)
				}
				checkClose(t, "probabilities", got.Outputs.Probabilities[0], wantJPEG.Probabilities[1])
				checkClose(t, "logits", got.Outputs.Logits[0], wantJPEG.Logits[1])
			})
			t.Run("concurrent single images", func(t *testing.T) {
				const clients = 8 // = -max_inflight, so none is refused
				var wg sync.WaitGroup
				errs := make(chan error, clients)
				for c := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						i := c % 2
						resp, err := http.Post(url, "application/json", strings.NewReader(`{"output_filter": ["probabilities"], "instances": [`+nested(pix[i])+`]}`))
						if err != nil {
							errs <- err
							return
						}
						defer resp.Body.Close()
						var got struct{ Predictions [][]float32 }
						if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || len(got.Predictions) != 1 {
							errs <- fmt.Errorf("client %d: HTTP %d, %v", c, resp.StatusCode, err)
							return
						}
						for k, v := range got.Predictions[0] {
							if math.Abs(float64(v-want.Probabilities[i][k])) > 1e-4 {
								errs <- fmt.Errorf("client %d: probability %d = %v, want %v", c, k, v, want.Probabilities[i][k])
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
			})
		})
	}
}

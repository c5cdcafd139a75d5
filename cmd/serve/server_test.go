package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/pipeline"
)

// TestErrors checks that bad requests get TensorFlow Serving's HTTP codes and a {"error": ...} body.
func TestErrors(t *testing.T) {
	ts := startServer(t, versionBase(t, 1), func(o *options) { o.maxBody = 4 << 20 })
	img := nested(testImage(1))
	tests := []struct {
		name, method, path, body string
		code                     int
		msg                      string
	}{
		{"malformed JSON", "POST", "/v1/models/m:predict", `{"instances": [`, 400, "malformed JSON"},
		{"wrong shape", "POST", "/v1/models/m:predict", `{"instances": [[[[1,2,3]]]]}`, 400, "want [32 32 3]"},
		{"wrong dtype", "POST", "/v1/models/m:predict", `{"instances": [[[["x",1,2]]]]}`, 400, "predict_jpeg"},
		{"not an image", "POST", "/v1/models/m:predict", `{"signature_name": "predict_jpeg", "instances": [{"b64": "` + base64.StdEncoding.EncodeToString([]byte("hello, not an image")) + `"}]}`, 400, "instance image 0"},
		{"BMP for predict_jpeg", "POST", "/v1/models/m:predict", `{"signature_name": "predict_jpeg", "instances": [{"b64": "Qk0="}]}`, 400, "image 0"},
		{"unknown model", "POST", "/v1/models/other:predict", `{"instances": []}`, 404, "Latest(other)"},
		{"unknown version", "POST", "/v1/models/m/versions/7:predict", `{"instances": [` + img + `]}`, 404, "Specific(m, 7)"},
		{"unknown signature", "POST", "/v1/models/m:predict", `{"signature_name": "x", "instances": []}`, 404, `"x" not found`},
		{"unknown verb", "POST", "/v1/models/m:explain", `{}`, 404, "unknown method"},
		{"classify", "POST", "/v1/models/m:classify", `{}`, 501, "not supported"},
		{"GET predict", "GET", "/v1/models/m:predict", ``, 405, "use POST"},
		{"POST status", "POST", "/v1/models/m", `{}`, 405, "use GET"},
		{"huge body", "POST", "/v1/models/m:predict", `{"instances": [` + strings.Repeat(img+",", 4<<20/len(img)+1) + img + `]}`, 413, "-max_request_bytes"},
		{"too many instances", "POST", "/v1/models/m:predict", `{"instances": [` + strings.Repeat(img+",", 64) + img + `]}`, 400, "at most 64"},
		{"unknown status version", "GET", "/v1/models/m/versions/9", ``, 404, "version 9"},
		{"no such endpoint", "GET", "/v2/x", ``, 404, "no such endpoint"},
		{"cam of text", "POST", "/v1/models/m:cam", `hello`, 400, "not a usable image"},
		{"cam bad alpha", "POST", "/v1/models/m:cam?alpha=2", `x`, 400, "alpha=2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct{ Error string }
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatalf("HTTP %d, body not JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tc.code || !strings.Contains(got.Error, tc.msg) {
				t.Errorf("HTTP %d %q, want %d with %q", resp.StatusCode, got.Error, tc.code, tc.msg)
			}
		})
	}
	// After all that, a good request is still answered.
	if code, body := post(t, ts.URL+"/v1/models/m:predict", "application/json", []byte(`{"instances": [`+img+`]}`)); code != 200 {
		t.Errorf("good request after bad ones: HTTP %d %s", code, body)
	}
}

// TestStatusAndMetadata checks the model status and metadata documents and /healthz.
func TestStatusAndMetadata(t *testing.T) {
	ts := startServer(t, versionBase(t, 1, 3), nil)
	code, body := get(t, ts.URL+"/v1/models/m")
	want := `{"model_version_status":[{"version":"3","state":"AVAILABLE","status":{"error_code":"OK","error_message":""}}]}`
	if code != 200 || strings.TrimSpace(string(body)) != want {
		t.Errorf("status: HTTP %d %s, want %s", code, body, want)
	}
	if code, body := get(t, ts.URL+"/v1/models/m/versions/3"); code != 200 || !strings.Contains(string(body), `"version":"3"`) {
		t.Errorf("status of version 3: HTTP %d %s", code, body)
	}
	code, body = get(t, ts.URL+"/v1/models/m/metadata")
	var meta struct {
		ModelSpec struct{ Name, Version string } `json:"model_spec"`
		Metadata  struct {
			SignatureDef struct {
				SignatureDef map[string]struct {
					Inputs map[string]struct {
						Dtype       string
						TensorShape struct {
							Dim []struct{ Size string }
						} `json:"tensor_shape"`
					}
					Outputs    map[string]json.RawMessage
					MethodName string `json:"method_name"`
				} `json:"signature_def"`
			} `json:"signature_def"`
			Finegrain struct {
				Labels []string
			}
		}
	}
	if err := json.Unmarshal(body, &meta); code != 200 || err != nil {
		t.Fatalf("metadata: HTTP %d %v %s", code, err, body)
	}
	sd := meta.Metadata.SignatureDef.SignatureDef
	in := sd[exported.ServingDefault].Inputs[exported.InputImages]
	var dims []string
	for _, d := range in.TensorShape.Dim {
		dims = append(dims, d.Size)
	}
	if meta.ModelSpec.Name != "m" || meta.ModelSpec.Version != "3" || in.Dtype != "DT_FLOAT" || strings.Join(dims, ",") != "-1,32,32,3" ||
		sd[exported.PredictJPEG].Inputs[exported.InputBytes].Dtype != "DT_STRING" || len(sd[exported.ServingDefault].Outputs) != 3 ||
		sd[exported.ServingDefault].MethodName != exported.PredictMethod || strings.Join(meta.Metadata.Finegrain.Labels, ",") != "w,x,y,z" {
		t.Errorf("metadata %s", body)
	}
	if code, body := get(t, ts.URL+"/healthz"); code != 200 || !strings.Contains(string(body), `"version":"3"`) {
		t.Errorf("healthz: HTTP %d %s", code, body)
	}
}

// TestHotSwap adds a new version while clients keep sending requests (none may fail), then a broken
// version, which is reported while the previous one keeps serving.
func TestHotSwap(t *testing.T) {
	base := versionBase(t, 1)
	ts := startServer(t, base, func(o *options) { o.batching = true })
	body := `{"output_filter": ["probabilities"], "instances": [` + nested(testImage(3)) + `]}`
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var served atomic.Int64
	versions := sync.Map{}
	errs := make(chan error, 100)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Post(ts.URL+"/v1/models/m:predict", "application/json", strings.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("HTTP %d during the swap: %s", resp.StatusCode, b)
					return
				}
				versions.Store(resp.Header.Get("X-Model-Version"), true)
				served.Add(1)
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("requests on version 1", func() bool { return served.Load() >= 5 })
	copyDir(t, testModel(t), filepath.Join(base, "2"))
	if err := ts.models.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := served.Load()
	waitFor("requests on version 2", func() bool { _, ok := versions.Load("2"); return ok && served.Load() >= n+5 })
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, ok := versions.Load("1"); !ok {
		t.Error("no request answered by version 1")
	}
	if code, b := post(t, ts.URL+"/v1/models/m/versions/1:predict", "application/json", []byte(body)); code != 404 {
		t.Errorf("version 1 after the swap: HTTP %d %s, want 404", code, b)
	}

	// A broken version 3: a saved_model.pb that is not a protocol buffer.
	broken := filepath.Join(base, "3")
	copyDir(t, testModel(t), broken)
	if err := os.WriteFile(filepath.Join(broken, "saved_model.pb"), []byte("not a graph"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ts.models.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, b := post(t, ts.URL+"/v1/models/m:predict", "application/json", []byte(body))
	var st struct {
		Status []struct {
			Version, State string
			Status         struct {
				Code string `json:"error_code"`
				Msg  string `json:"error_message"`
			}
		} `json:"model_version_status"`
	}
	_, sb := get(t, ts.URL+"/v1/models/m")
	if err := json.Unmarshal(sb, &st); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range st.Status {
		got = append(got, s.Version+":"+s.State+":"+s.Status.Code)
	}
	if code != 200 || strings.Join(got, " ") != "3:END:UNKNOWN 2:AVAILABLE:OK 1:END:OK" || !strings.Contains(st.Status[0].Status.Msg, "corrupt") {
		t.Errorf("after a broken version 3: predict HTTP %d (%.100s), status %s", code, b, sb)
	}
	if !strings.Contains(ts.logs.String(), "failed to load") {
		t.Errorf("the broken version is not logged:\n%s", ts.logs.String())
	}
	// Fixed in place, version 3 is noticed and served.
	copyDir(t, testModel(t), broken)
	future := time.Now().Add(time.Second)
	os.Chtimes(filepath.Join(broken, "saved_model.pb"), future, future)
	if err := ts.models.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, b := get(t, ts.URL+"/healthz"); code != 200 || !strings.Contains(string(b), `"version":"3"`) {
		t.Errorf("after fixing version 3: HTTP %d %s", code, b)
	}
}

// TestWatchPicksUpVersion runs the poller as the command does and waits for it to serve a new version.
func TestWatchPicksUpVersion(t *testing.T) {
	base := versionBase(t, 4)
	ts := startServer(t, base, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ts.models.watch(ctx, 20*time.Millisecond)
	copyDir(t, testModel(t), filepath.Join(base, "10"))
	deadline := time.Now().Add(time.Minute)
	for {
		code, b := get(t, ts.URL+"/healthz")
		if code == 200 && strings.Contains(string(b), `"version":"10"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("version 10 not served: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStartupFailures checks that a base path with nothing servable is an error at start.
func TestStartupFailures(t *testing.T) {
	empty := t.TempDir()
	broken := t.TempDir()
	os.MkdirAll(filepath.Join(broken, "1"), 0o755)
	os.WriteFile(filepath.Join(broken, "1", "saved_model.pb"), []byte("junk"), 0o644)
	tests := []struct{ name, base, want string }{
		{"missing", filepath.Join(empty, "nope"), "no such file"},
		{"empty", empty, "no version folders"},
		{"broken only version", broken, "corrupt"},
	}
	for _, tc := range tests {
		o, _ := parseFlags([]string{"-model_base_path", tc.base}, io.Discard)
		_, _, err := build(o, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// TestPlainSavedModel serves a SavedModel folder itself as version 1.
func TestPlainSavedModel(t *testing.T) {
	ts := startServer(t, testModel(t), nil)
	if code, b := get(t, ts.URL+"/v1/models/m/versions/1"); code != 200 || !strings.Contains(string(b), "AVAILABLE") {
		t.Errorf("HTTP %d %s", code, b)
	}
}

// slowBody is a request body that blocks until released, holding its request in flight.
type slowBody struct {
	started chan struct{}
	release chan struct{}
	r       io.Reader
	once    sync.Once
}

func newSlowBody(body string) *slowBody {
	return &slowBody{started: make(chan struct{}), release: make(chan struct{}), r: strings.NewReader(body)}
}

func (s *slowBody) Read(p []byte) (int, error) {
	s.once.Do(func() { close(s.started) })
	<-s.release
	return s.r.Read(p)
}

// TestSaturation holds -max_inflight requests in flight and checks that the next one is refused with
// 503 at once, and that the held ones are then answered.
func TestSaturation(t *testing.T) {
	ts := startServer(t, versionBase(t, 1), func(o *options) { o.maxInFlight = 2 })
	body := `{"output_filter": ["logits"], "instances": [` + nested(testImage(1)) + `]}`
	var wg sync.WaitGroup
	var slow []*slowBody
	codes := make(chan int, 2)
	for range 2 {
		sb := newSlowBody(body)
		slow = append(slow, sb)
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(ts.URL+"/v1/models/m:predict", "application/json", sb)
			if err != nil {
				codes <- -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(ts.srv.slots) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the slow requests never got in flight")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	code, b := post(t, ts.URL+"/v1/models/m:predict", "application/json", []byte(body))
	if code != 503 || !strings.Contains(string(b), "-max_inflight") {
		t.Errorf("request beyond the bound: HTTP %d %s, want 503", code, b)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the 503 took %v: it must not wait for a slot", d)
	}
	// Status and health are not prediction requests and are still answered.
	if code, _ := get(t, ts.URL+"/healthz"); code != 200 {
		t.Errorf("healthz while saturated: HTTP %d", code)
	}
	for _, s := range slow {
		close(s.release)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("held request: HTTP %d, want 200", c)
		}
	}
	if code, _ := post(t, ts.URL+"/v1/models/m:predict", "application/json", []byte(body)); code != 200 {
		t.Errorf("after the burst: HTTP %d", code)
	}
}

// TestPanicAnswered500 makes a handler panic (a server without a model manager) and checks that the
// request gets a 500 and the server goes on.
func TestPanicAnswered500(t *testing.T) {
	s := newServer(config{Name: "m", MaxBodyBytes: 1 << 20, MaxInstances: 1, MaxInFlight: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil, newMetrics("m"))
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	for range 2 {
		code, b := get(t, ts.URL+"/healthz")
		if code != 500 || !strings.Contains(string(b), "internal error") {
			t.Errorf("HTTP %d %s, want 500", code, b)
		}
	}
	if code, b := get(t, ts.URL+"/metrics"); code != 200 || !strings.Contains(string(b), `finegrain_serve_requests_total{code="500",endpoint="healthz"} 2`) {
		t.Errorf("metrics: HTTP %d %s", code, b)
	}
}

// TestCAM posts an image file to :cam and checks the PNG and the class it shows against the model's
// prediction on the evaluation pipeline's crop (cmd/predict's preprocessing).
func TestCAM(t *testing.T) {
	ts := startServer(t, versionBase(t, 1), nil)
	img := testPNG(t, 50, 40, 5)
	cfg := pipeline.DefaultConfig()
	cfg.ImageSize, cfg.ResizeSize = testSize, 36
	pix, err := pipeline.EvalEncoded(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := inProcess(t, [][]float32{pix}, nil)
	top := 0
	for k, p := range want.Probabilities[0] {
		if p > want.Probabilities[0][top] {
			top = k
		}
	}
	for _, tc := range []struct {
		query string
		class int
	}{{"", top}, {"?class=2&alpha=0.3", 2}} {
		resp, err := http.Post(ts.URL+"/v1/models/m:cam"+tc.query, "image/png", bytes.NewReader(img))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("%s: HTTP %d %s", tc.query, resp.StatusCode, b)
		}
		out, err := png.Decode(bytes.NewReader(b))
		if err != nil || out.Bounds().Dx() != testSize || out.Bounds().Dy() != testSize {
			t.Fatalf("%s: not a %d-pixel PNG: %v", tc.query, testSize, err)
		}
		if got := resp.Header.Get("X-Class-Id"); got != fmt.Sprint(tc.class) {
			t.Errorf("%s: class %s, want %d", tc.query, got, tc.class)
		}
	}
}

// TestMetrics checks the Prometheus text after a few requests.
func TestMetrics(t *testing.T) {
	ts := startServer(t, versionBase(t, 5), func(o *options) { o.batching = true })
	body := []byte(`{"output_filter": ["logits"], "instances": [` + nested(testImage(1)) + `, ` + nested(testImage(2)) + `]}`)
	post(t, ts.URL+"/v1/models/m:predict", "application/json", body)
	post(t, ts.URL+"/v1/models/m:predict", "application/json", []byte(`{`))
	_, b := get(t, ts.URL+"/metrics")
	for _, want := range []string{
		`finegrain_serve_requests_total{code="200",endpoint="predict"} 1`,
		`finegrain_serve_requests_total{code="400",endpoint="predict"} 1`,
		`finegrain_serve_request_errors_total{endpoint="predict"} 1`,
		`finegrain_serve_request_duration_seconds_count{endpoint="predict"} 2`,
		`finegrain_serve_request_batch_size_bucket{signature="serving_default",le="2"} 1`,
		`finegrain_serve_model_version{model="m"} 5`,
		`finegrain_serve_requests_in_flight 0`,
		`finegrain_serve_model_load_failures_total 0`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", b)
	}
}

// TestCurlCompatibility posts the JSON shapes of TensorFlow Serving's REST API documentation with curl,
// a client that is not ours, and compares the answers with the model's in-process predictions.
func TestCurlCompatibility(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	ts := startServer(t, versionBase(t, 1), nil)
	pix := testImage(4)
	pngb := testPNG(t, 36, 48, 3)
	want := inProcess(t, [][]float32{pix}, nil)
	wantJPEG := inProcess(t, nil, [][]byte{pngb})
	b64 := base64.StdEncoding.EncodeToString(pngb)
	dir := t.TempDir()
	tests := []struct {
		name, path, body string
		want             *exported.Prediction
		columnar         bool
	}{
		// api_rest.md: {"signature_name": <string>, "instances": <value>|<(nested)list>|<list-of-objects>}
		{"row list", "/v1/models/m:predict", `{"instances": [` + nested(pix) + `]}`, want, false},
		{"row objects", "/v1/models/m/versions/1:predict", `{"signature_name": "serving_default", "instances": [{"images": ` + nested(pix) + `}]}`, want, false},
		// {"signature_name": <string>, "inputs": <value>|<(nested)list>|<object>}
		{"columnar", "/v1/models/m:predict", `{"inputs": {"images": [` + nested(pix) + `]}}`, want, true},
		// binary values: {"b64": "..."}
		{"row b64", "/v1/models/m:predict", `{"signature_name": "predict_jpeg", "instances": [{"b64": "` + b64 + `"}]}`, wantJPEG, false},
		{"columnar b64", "/v1/models/m:predict", `{"signature_name": "predict_jpeg", "inputs": {"image_bytes": [{"b64": "` + b64 + `"}]}}`, wantJPEG, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, fmt.Sprintf("req%d.json", i))
			if err := os.WriteFile(f, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, curl, "-sS", "--fail-with-body", "-X", "POST", "-H", "Content-Type: application/json",
				"--data-binary", "@"+f, ts.URL+tc.path).Output()
			if err != nil {
				t.Fatalf("curl: %v: %s", err, out)
			}
			var got rowOutputs
			if tc.columnar {
				var r struct {
					Outputs struct {
						Logits, Probabilities [][]float32
						CAM                   [][][][]float32 `json:"cam"`
					}
				}
				if err := json.Unmarshal(out, &r); err != nil || len(r.Outputs.Logits) != 1 || len(r.Outputs.CAM) != 1 {
					t.Fatalf("%v: %.300s", err, out)
				}
				got = rowOutputs{r.Outputs.Logits[0], r.Outputs.Probabilities[0], r.Outputs.CAM[0]}
			} else {
				var r struct{ Predictions []rowOutputs }
				if err := json.Unmarshal(out, &r); err != nil || len(r.Predictions) != 1 {
					t.Fatalf("%v: %.300s", err, out)
				}
				got = r.Predictions[0]
			}
			checkRow(t, tc.name, got, tc.want, 0)
		})
	}
}

// TestSIGTERMDrain runs the command, holds a request in flight, sends SIGTERM, and checks that new
// connections are refused, the held request is answered and the command exits with status 0.
func TestSIGTERMDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "serve")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-model_base_path", versionBase(t, 1), "-model_name", "m",
		"-rest_api_host", "127.0.0.1", "-rest_api_port", "0", "-file_system_poll_wait_seconds", "0")
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var logs []string
	waitLine := func(re *regexp.Regexp) []string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the command ended before logging %v:\n%s", re, strings.Join(logs, "\n"))
				}
				logs = append(logs, l)
				if m := re.FindStringSubmatch(l); m != nil {
					return m
				}
			case <-ctx.Done():
				t.Fatalf("no log line %v:\n%s", re, strings.Join(logs, "\n"))
			}
		}
	}
	addr := waitLine(regexp.MustCompile(`serving REST API" addr=(127\.0\.0\.1:\d+)`))[1]
	url := "http://" + addr + "/v1/models/m:predict"
	body := `{"output_filter": ["probabilities"], "instances": [` + nested(testImage(1)) + `]}`
	held := newSlowBody(body)
	result := make(chan string, 1)
	go func() {
		resp, err := http.Post(url, "application/json", held)
		if err != nil {
			result <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	<-held.started
	time.Sleep(100 * time.Millisecond) // the request's headers reach the handler
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLine(regexp.MustCompile(`shutting down`))
	// New connections are refused once the listener is closed.
	refused := false
	for range 100 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if !refused {
		t.Error("new connections are still accepted after SIGTERM")
	}
	close(held.release)
	if r := <-result; !strings.HasPrefix(r, "200 ") {
		t.Errorf("the request in flight at SIGTERM: %.200s, want 200", r)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v\n%s", err, strings.Join(logs, "\n"))
	}
}

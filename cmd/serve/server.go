package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/train"
)

// config is what a server needs beyond its model.
type config struct {
	Name            string
	MaxBodyBytes    int64         // request bodies larger than this are refused (413)
	MaxInstances    int           // images per predict request
	MaxInFlight     int           // prediction requests answered at once; more get 503 at once
	RequestTimeout  time.Duration // a prediction request's deadline (504 beyond it)
	Logger          *slog.Logger
	BatchingEnabled bool
}

// server answers TensorFlow Serving's REST API for one model, plus /healthz, /metrics and :cam.
type server struct {
	cfg     config
	models  *manager
	metrics *metrics
	slots   chan struct{} // one token per prediction request in flight
}

func newServer(cfg config, models *manager, met *metrics) *server {
	return &server{cfg: cfg, models: models, metrics: met, slots: make(chan struct{}, cfg.MaxInFlight)}
}

// apiError is an error with the HTTP status TensorFlow Serving gives it.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to TensorFlow Serving's HTTP status and message.
func statusOf(err error) (int, string) {
	var ae *apiError
	var br *badRequest
	var nf *notFound
	var ie *exported.ImageError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae.code, ae.msg
	case errors.As(err, &br):
		return http.StatusBadRequest, br.msg
	case errors.As(err, &nf):
		return http.StatusNotFound, nf.msg
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes (-max_request_bytes)", mb.Limit)
	case errors.As(err, &ie):
		return http.StatusBadRequest, "instance " + ie.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "deadline exceeded: " + err.Error()
	case errors.Is(err, context.Canceled):
		return 499, "request cancelled"
	case errors.Is(err, exported.ErrClosed):
		return http.StatusServiceUnavailable, "the model is being unloaded: retry"
	}
	return http.StatusInternalServerError, err.Error()
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error": "encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
	w.Write([]byte("\n"))
}

func writeError(w http.ResponseWriter, err error) {
	code, msg := statusOf(err)
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, code, map[string]string{"error": msg})
}

// Handler is the server's HTTP handler: every request is counted and timed, and a panic in a
// handler is answered with a 500 and logged instead of ending the process.
func (s *server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/models/", s.models1)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /ui/{file...}", s.page)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, "no such endpoint: %s %s (see /v1/models/%s)", r.Method, r.URL.Path, s.cfg.Name))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p) // net/http's way to abort a response; it does not end the process
				}
				s.cfg.Logger.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if sw.code == 0 {
					writeError(sw, errorf(http.StatusInternalServerError, "internal error"))
				}
			}
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			s.metrics.observe(endpointOf(r.URL.Path), code, time.Since(start).Seconds())
		}()
		mux.ServeHTTP(sw, r)
	})
}

// endpointOf is a bounded label for the metrics.
func endpointOf(path string) string {
	switch {
	case path == "/healthz", path == "/metrics":
		return path[1:]
	case strings.HasSuffix(path, ":predict"):
		return "predict"
	case strings.HasSuffix(path, ":cam"):
		return "cam"
	case strings.HasSuffix(path, "/metadata"):
		return "metadata"
	case strings.HasPrefix(path, "/v1/models/"):
		return "status"
	case path == "/", strings.HasPrefix(path, "/ui/"):
		return "page"
	}
	return "other"
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	sv, err := s.models.acquire(-1)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no model version loaded"})
		return
	}
	defer sv.release()
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "model": s.cfg.Name, "version": strconv.FormatInt(sv.version, 10)})
}

// route is a parsed /v1/models/ path.
type route struct {
	name    string
	version int64  // -1: latest
	verb    string // "predict", "cam", ... after ':'; "" for status and metadata
	meta    bool
}

// parseRoute parses /v1/models/NAME[/versions/V][/metadata] and /v1/models/NAME[/versions/V]:VERB.
func parseRoute(path string) (route, error) {
	rt := route{version: -1}
	rest, ok := strings.CutPrefix(path, "/v1/models/")
	if !ok || rest == "" {
		return rt, errorf(http.StatusNotFound, "missing model name in %s", path)
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i:], "/") {
		rest, rt.verb = rest[:i], rest[i+1:]
	}
	parts := strings.Split(rest, "/")
	rt.name = parts[0]
	parts = parts[1:]
	if len(parts) >= 2 && parts[0] == "versions" {
		v, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil || v < 0 {
			return rt, errorf(http.StatusBadRequest, "Failed to convert version: %s to numeric.", parts[1])
		}
		rt.version = v
		parts = parts[2:]
	} else if len(parts) >= 1 && parts[0] == "labels" {
		return rt, errorf(http.StatusNotFound, "version labels are not supported by this server: use /versions/N or no version")
	}
	if len(parts) == 1 && parts[0] == "metadata" && rt.verb == "" {
		rt.meta = true
		parts = nil
	}
	if len(parts) > 0 || rt.name == "" {
		return rt, errorf(http.StatusNotFound, "malformed request: %s", path)
	}
	return rt, nil
}

func (s *server) models1(w http.ResponseWriter, r *http.Request) {
	rt, err := parseRoute(r.URL.Path)
	if err != nil {
		writeError(w, err)
		return
	}
	if rt.name != s.cfg.Name {
		if rt.version >= 0 {
			writeError(w, &notFound{fmt.Sprintf("Servable not found for request: Specific(%s, %d)", rt.name, rt.version)})
		} else {
			writeError(w, &notFound{fmt.Sprintf("Servable not found for request: Latest(%s)", rt.name)})
		}
		return
	}
	want := http.MethodPost
	if rt.verb == "" {
		want = http.MethodGet
	}
	if r.Method != want {
		w.Header().Set("Allow", want)
		writeError(w, errorf(http.StatusMethodNotAllowed, "%s %s: use %s", r.Method, r.URL.Path, want))
		return
	}
	switch {
	case rt.verb == "" && rt.meta:
		s.metadata(w, rt)
	case rt.verb == "":
		s.status(w, rt)
	case rt.verb == "predict":
		s.limited(w, r, func(ctx context.Context) error { return s.predict(ctx, w, r, rt) })
	case rt.verb == "cam":
		s.limited(w, r, func(ctx context.Context) error { return s.cam(ctx, w, r, rt) })
	case rt.verb == "classify" || rt.verb == "regress":
		writeError(w, errorf(http.StatusNotImplemented, "%s is not supported: the model's signatures are predict signatures (use :predict)", rt.verb))
	default:
		writeError(w, errorf(http.StatusNotFound, "unknown method %q: want :predict (or :cam)", rt.verb))
	}
}

// limited runs a prediction request if a slot is free, else answers 503 at once: requests beyond
// -max_inflight are refused rather than queued.
func (s *server) limited(w http.ResponseWriter, r *http.Request, fn func(context.Context) error) {
	select {
	case s.slots <- struct{}{}:
	default:
		writeError(w, errorf(http.StatusServiceUnavailable, "server busy: %d requests in flight (-max_inflight): retry", cap(s.slots)))
		return
	}
	s.metrics.inflight.Inc()
	defer func() {
		<-s.slots
		s.metrics.inflight.Dec()
	}()
	ctx := r.Context()
	if s.cfg.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.RequestTimeout)
		defer cancel()
	}
	if err := fn(ctx); err != nil {
		code, _ := statusOf(err)
		if code >= 500 {
			s.cfg.Logger.Error("request failed", "path", r.URL.Path, "code", code, "err", err)
		}
		writeError(w, err)
	}
}

// readBody reads the request body under -max_request_bytes.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, err
		}
		return nil, badf("reading the request body: %v", err)
	}
	return body, nil
}

func (s *server) predict(ctx context.Context, w http.ResponseWriter, r *http.Request, rt route) error {
	sv, err := s.models.acquire(rt.version)
	if err != nil {
		return err
	}
	defer sv.release()
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodePredict(body, requestLimits{Size: sv.model.InputSize(), MaxInstances: s.cfg.MaxInstances})
	if err != nil {
		return err
	}
	cam := false
	for _, o := range req.Outputs {
		cam = cam || o == exported.OutputCAM
	}
	var opts []exported.PredictOption
	if cam {
		opts = append(opts, exported.WithCAM())
	}
	var p *exported.Prediction
	switch {
	case req.Encoded != nil:
		s.metrics.images.WithLabelValues(req.Signature).Observe(float64(len(req.Encoded)))
		p, err = sv.model.PredictEncoded(ctx, req.Encoded, opts...)
	case sv.batcher != nil && req.Images.N > 0:
		s.metrics.images.WithLabelValues(req.Signature).Observe(float64(req.Images.N))
		b := sv.batcher
		if cam {
			b = sv.camBatch
		}
		p, err = b.Predict(ctx, *req.Images)
	default:
		s.metrics.images.WithLabelValues(req.Signature).Observe(float64(req.Images.N))
		p, err = sv.model.Predict(ctx, *req.Images, opts...)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Model-Version", strconv.FormatInt(sv.version, 10))
	w.Write(encodePrediction(p, req))
	return nil
}

// encodePrediction writes the answer as TensorFlow Serving does (api_rest.md's "Response format"): in
// the row format {"predictions": [...]} with one entry per instance, an object of the outputs or, for a
// single output, its value; in the columnar format {"outputs": ...} with an object of the batched
// outputs or, for a single output, its value. Non-finite values are written NaN, Infinity, -Infinity
// as TensorFlow Serving writes them.
func encodePrediction(p *exported.Prediction, req *predictRequest) []byte {
	n := len(p.Logits)
	value := func(out string, i int) func(b []byte) []byte { // instance i of output out
		switch out {
		case exported.OutputLogits:
			return func(b []byte) []byte { return appendFloats(b, p.Logits[i]) }
		case exported.OutputProbs:
			return func(b []byte) []byte { return appendFloats(b, p.Probabilities[i]) }
		}
		return func(b []byte) []byte {
			return appendList(b, len(p.CAM[i]), func(b []byte, y int) []byte {
				return appendList(b, len(p.CAM[i][y]), func(b []byte, x int) []byte { return appendFloats(b, p.CAM[i][y][x]) })
			})
		}
	}
	out := make([]byte, 0, 64+n*len(req.Outputs)*64)
	single := len(req.Outputs) == 1
	if !req.Columnar {
		out = append(out, `{"predictions": `...)
		out = appendList(out, n, func(b []byte, i int) []byte {
			if single {
				return value(req.Outputs[0], i)(b)
			}
			return appendObject(b, req.Outputs, func(b []byte, k int) []byte { return value(req.Outputs[k], i)(b) })
		})
	} else {
		out = append(out, `{"outputs": `...)
		batch := func(b []byte, o string) []byte {
			return appendList(b, n, func(b []byte, i int) []byte { return value(o, i)(b) })
		}
		if single {
			out = batch(out, req.Outputs[0])
		} else {
			out = appendObject(out, req.Outputs, func(b []byte, k int) []byte { return batch(b, req.Outputs[k]) })
		}
	}
	return append(out, "}\n"...)
}

func appendList(b []byte, n int, elem func([]byte, int) []byte) []byte {
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = elem(b, i)
	}
	return append(b, ']')
}

func appendObject(b []byte, keys []string, val func([]byte, int) []byte) []byte {
	b = append(b, '{')
	for k, key := range keys {
		if k > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendQuote(b, key)
		b = append(b, ": "...)
		b = val(b, k)
	}
	return append(b, '}')
}

func appendFloats(b []byte, v []float32) []byte {
	return appendList(b, len(v), func(b []byte, i int) []byte {
		f := float64(v[i])
		switch {
		case math.IsNaN(f):
			return append(b, "NaN"...)
		case math.IsInf(f, 1):
			return append(b, "Infinity"...)
		case math.IsInf(f, -1):
			return append(b, "-Infinity"...)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 32)
	})
}

// status answers GET /v1/models/NAME[/versions/V] as TensorFlow Serving's GetModelStatus does.
func (s *server) status(w http.ResponseWriter, rt route) {
	sts := s.models.status(rt.version)
	if len(sts) == 0 {
		if rt.version >= 0 {
			writeError(w, &notFound{fmt.Sprintf("Could not find version %d of model %s", rt.version, rt.name)})
		} else {
			writeError(w, &notFound{fmt.Sprintf("Could not find any versions of model %s", rt.name)})
		}
		return
	}
	type errStatus struct {
		Code    string `json:"error_code"`
		Message string `json:"error_message"`
	}
	type verStatus struct {
		Version string    `json:"version"`
		State   string    `json:"state"`
		Status  errStatus `json:"status"`
	}
	var list []verStatus
	for _, st := range sts {
		es := errStatus{Code: "OK"}
		if st.Err != "" {
			es = errStatus{Code: "UNKNOWN", Message: st.Err}
		}
		list = append(list, verStatus{Version: strconv.FormatInt(st.Version, 10), State: st.State, Status: es})
	}
	writeJSON(w, http.StatusOK, map[string]any{"model_version_status": list})
}

// metadata answers GET /v1/models/NAME[/versions/V]/metadata as TensorFlow Serving's GetModelMetadata
// does (the signature_def metadata), with this server's "finegrain" entry: the model's labels and
// assets/metadata.json.
func (s *server) metadata(w http.ResponseWriter, rt route) {
	sv, err := s.models.acquire(rt.version)
	if err != nil {
		writeError(w, err)
		return
	}
	defer sv.release()
	writeJSON(w, http.StatusOK, map[string]any{
		"model_spec": map[string]string{"name": s.cfg.Name, "signature_name": "", "version": strconv.FormatInt(sv.version, 10)},
		"metadata": map[string]any{
			"signature_def": map[string]any{"signature_def": sv.sigs},
			"finegrain": map[string]any{
				"labels":   sv.model.Labels(),
				"model":    sv.model.Metadata(),
				"batching": s.cfg.BatchingEnabled,
			},
		},
	})
}

// cam answers POST /v1/models/NAME[/versions/V]:cam: the body is an image file (JPEG, PNG, GIF, BMP
// or WebP), decoded and cropped in Go by the evaluation pipeline as cmd/predict does; the answer is a
// PNG of the model's input crop under the class activation map of the top class, or of ?class=K, with
// ?alpha= the map's opacity (default 0.5). Headers give the class shown and the top classes.
func (s *server) cam(ctx context.Context, w http.ResponseWriter, r *http.Request, rt route) error {
	sv, err := s.models.acquire(rt.version)
	if err != nil {
		return err
	}
	defer sv.release()
	alpha := 0.5
	if a := r.URL.Query().Get("alpha"); a != "" {
		if alpha, err = strconv.ParseFloat(a, 64); err != nil || !(alpha >= 0 && alpha <= 1) {
			return badf("alpha=%s: want a number in 0..1", a)
		}
	}
	class := -1
	if c := r.URL.Query().Get("class"); c != "" {
		if class, err = strconv.Atoi(c); err != nil || class < 0 || class >= sv.model.NumClasses() {
			return badf("class=%s: want a class id in 0..%d", c, sv.model.NumClasses()-1)
		}
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	pix, err := pipeline.EvalEncoded(body, sv.eval)
	if err != nil {
		var bad *pipeline.BadImageError
		if errors.As(err, &bad) {
			return badf("the body is not a usable image: %v", bad.Err)
		}
		return fmt.Errorf("preprocess: %w", err)
	}
	size := sv.model.InputSize()
	p, err := sv.model.Predict(ctx, exported.Images{N: 1, Height: size, Width: size, Pix: pix}, exported.WithCAM())
	if err != nil {
		return err
	}
	top := sv.model.TopK(p.Probabilities[0], 5)
	if class < 0 {
		class = top[0].ID
	}
	cam := p.CAM[0]
	h, wd := len(cam), len(cam[0])
	flat := make([]float32, 0, h*wd)
	for _, row := range cam {
		for _, v := range row {
			flat = append(flat, v[class])
		}
	}
	png, err := train.CAMOverlay(pix, size, flat, h, wd, alpha)
	if err != nil {
		return fmt.Errorf("cam overlay: %w", err)
	}
	topJSON, _ := json.Marshal(top)
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("X-Model-Version", strconv.FormatInt(sv.version, 10))
	w.Header().Set("X-Class-Id", strconv.Itoa(class))
	w.Header().Set("X-Class-Label", sanitizeHeader(sv.model.Label(class)))
	w.Header().Set("X-Probability", strconv.FormatFloat(float64(p.Probabilities[0][class]), 'g', 6, 32))
	w.Header().Set("X-Top-Classes", asciiJSON(topJSON))
	w.Write(png)
	return nil
}

// asciiJSON writes the non-ASCII characters of JSON text as \u escapes, so the JSON fits in a header
// value and still parses to the same strings (labels may hold any text).
func asciiJSON(b []byte) string {
	var out strings.Builder
	for _, r := range string(b) {
		switch {
		case r < utf8.RuneSelf:
			out.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, "\\u%04x\\u%04x", r1, r2)
		default:
			fmt.Fprintf(&out, "\\u%04x", r)
		}
	}
	return out.String()
}

// sanitizeHeader keeps a header value printable ASCII (labels may hold any text).
func sanitizeHeader(s string) string {
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}

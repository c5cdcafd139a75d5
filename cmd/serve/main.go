// Command serve answers TensorFlow Serving's REST API for a model that cmd/export wrote:
//
//	go run ./cmd/serve -model_base_path DIR -model_name NAME [-rest_api_port 8501] [-enable_batching]
//
// DIR holds numeric version folders (DIR/1/saved_model.pb, DIR/2/...) as TensorFlow Serving expects,
// or is itself a SavedModel (served as version 1). The highest version that loads is served; the
// folder is polled every -file_system_poll_wait_seconds, a new version is loaded and swapped in
// without dropping a request, and a version that fails to load is logged and shown in the model
// status while the previous one keeps serving.
//
// Endpoints (docs/serving.md has the details and what is left out of TensorFlow Serving's API):
//
//	POST /v1/models/NAME[/versions/V]:predict   {"signature_name", "instances" | "inputs", "output_filter"}
//	GET  /v1/models/NAME[/versions/V]           model status
//	GET  /v1/models/NAME[/versions/V]/metadata  signature defs, labels, metadata.json
//	POST /v1/models/NAME[/versions/V]:cam       an image file in, a PNG of the class activation map out
//	GET  /healthz, GET /metrics                 liveness; Prometheus text format
//	GET  /                                      a web page: an image in, top classes and CAM out
//
// Requests beyond -max_inflight are answered 503 at once; bodies over -max_request_bytes 413; images
// over -max_image_pixels 400. SIGTERM or SIGINT stops accepting connections, lets the requests in
// flight finish (up to -shutdown_timeout) and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/ops"
)

func main() {
	cli.QuietLogs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// options are the command's flags.
type options struct {
	base, name, host string
	port             int
	timeoutMS        int
	pollSeconds      int
	batching         bool
	maxBatch         int
	batchMicros      int
	maxBody          int64
	maxPixels        int
	maxInstances     int
	maxInFlight      int
	readTimeout      time.Duration
	writeTimeout     time.Duration
	shutdownTimeout  time.Duration
	intraOp, interOp int
}

func parseFlags(args []string, stderr io.Writer) (*options, int) {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(stderr)
	o := &options{}
	fl.StringVar(&o.base, "model_base_path", "", "`DIR` of numeric version folders (DIR/1/saved_model.pb ...) or a SavedModel folder")
	fl.StringVar(&o.name, "model_name", "default", "the model's `NAME` in the URLs /v1/models/NAME")
	fl.IntVar(&o.port, "rest_api_port", 8501, "TCP port of the REST API (0: any free port, logged)")
	fl.StringVar(&o.host, "rest_api_host", "", "address to listen on (\"\": every interface, as TensorFlow Serving; 127.0.0.1: this machine only)")
	fl.IntVar(&o.timeoutMS, "rest_api_timeout_in_ms", 30000, "deadline of a prediction request in milliseconds (504 beyond it)")
	fl.IntVar(&o.pollSeconds, "file_system_poll_wait_seconds", 1, "seconds between looks for new versions in -model_base_path (0: look once, at start)")
	fl.BoolVar(&o.batching, "enable_batching", false, "merge concurrent serving_default requests into batches")
	fl.IntVar(&o.maxBatch, "max_batch_size", 16, "with -enable_batching: images per batch")
	fl.IntVar(&o.batchMicros, "batch_timeout_micros", 5000, "with -enable_batching: longest wait in microseconds for more requests after the first of a batch")
	fl.Int64Var(&o.maxBody, "max_request_bytes", 32<<20, "largest request body in bytes (413 beyond it)")
	fl.IntVar(&o.maxPixels, "max_image_pixels", 25_000_000, "largest encoded image, in pixels declared by its header (400 beyond it)")
	fl.IntVar(&o.maxInstances, "max_instances", 64, "images per predict request")
	fl.IntVar(&o.maxInFlight, "max_inflight", 64, "prediction requests answered at once; more are refused with 503, not queued")
	fl.DurationVar(&o.readTimeout, "read_timeout", 30*time.Second, "time to read a whole request, headers and body")
	fl.DurationVar(&o.writeTimeout, "write_timeout", 60*time.Second, "time from the end of the request's headers to the end of the answer")
	fl.DurationVar(&o.shutdownTimeout, "shutdown_timeout", 30*time.Second, "on SIGTERM, how long requests in flight may take to finish")
	fl.IntVar(&o.intraOp, "tensorflow_intra_op_parallelism", 0, "threads inside one TensorFlow op (0: one per CPU)")
	fl.IntVar(&o.interOp, "tensorflow_inter_op_parallelism", 0, "TensorFlow ops run at once (0: the default, 2)")
	fl.Usage = func() {
		fmt.Fprint(stderr, `Usage: serve -model_base_path DIR [-model_name NAME] [-rest_api_port 8501] [flags]

Serves an exported model over TensorFlow Serving's REST API, with dynamic batching and a CAM endpoint.

DIR holds numeric version folders (DIR/1, DIR/2, ...) or is a SavedModel folder; the highest
version is served and new versions are swapped in as they appear. See docs/serving.md.

Examples:
  go run ./cmd/serve -model_base_path runs/demo/export -model_name birds
  go run ./cmd/serve -model_base_path models/birds -model_name birds -enable_batching -max_batch_size 32
  curl -s localhost:8501/v1/models/birds
  curl -s -X POST localhost:8501/v1/models/birds:predict \
    -d '{"signature_name": "predict_jpeg", "instances": [{"b64": "'$(base64 -w0 bird.jpg)'"}]}'
  curl -s -X POST --data-binary @bird.jpg localhost:8501/v1/models/birds:cam -o cam.png

Flags:
`)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK
		}
		return nil, exitUsage
	}
	var problems []string
	switch {
	case o.base == "":
		problems = append(problems, "-model_base_path DIR is required")
	case fl.NArg() > 0:
		problems = append(problems, fmt.Sprintf("unexpected arguments %q", fl.Args()))
	}
	if o.name == "" || strings.ContainsAny(o.name, "/:") {
		problems = append(problems, "-model_name must be non-empty, without '/' or ':'")
	}
	if o.port < 0 || o.port > 65535 {
		problems = append(problems, "-rest_api_port must be in 0..65535")
	}
	for _, c := range []struct {
		name string
		v    int64
	}{{"-rest_api_timeout_in_ms", int64(o.timeoutMS)}, {"-max_batch_size", int64(o.maxBatch)}, {"-batch_timeout_micros", int64(o.batchMicros)},
		{"-max_request_bytes", o.maxBody}, {"-max_image_pixels", int64(o.maxPixels)}, {"-max_instances", int64(o.maxInstances)}, {"-max_inflight", int64(o.maxInFlight)}} {
		if c.v <= 0 {
			problems = append(problems, c.name+" must be positive")
		}
	}
	if o.pollSeconds < 0 || o.intraOp < 0 || o.interOp < 0 {
		problems = append(problems, "-file_system_poll_wait_seconds and the parallelism flags must not be negative")
	}
	if o.readTimeout <= 0 || o.shutdownTimeout <= 0 {
		problems = append(problems, "-read_timeout and -shutdown_timeout must be positive")
	}
	if o.writeTimeout <= time.Duration(o.timeoutMS)*time.Millisecond {
		problems = append(problems, "-write_timeout must be longer than -rest_api_timeout_in_ms, or answers are cut off")
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "serve: "+p+" (see -h)")
		}
		return nil, exitUsage
	}
	return o, exitOK
}

// run serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	o, code := parseFlags(args, stderr)
	if o == nil {
		return code
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	srv, models, err := build(o, logger)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return exitFailed
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.host, strconv.Itoa(o.port)))
	if err != nil {
		models.close()
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return exitFailed
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: min(o.readTimeout, 10*time.Second),
		ReadTimeout:       o.readTimeout,
		WriteTimeout:      o.writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if o.pollSeconds > 0 {
			models.watch(watchCtx, time.Duration(o.pollSeconds)*time.Second)
		}
	}()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	logger.Info("serving REST API", "addr", ln.Addr().String(), "model", o.name, "base", o.base, "batching", o.batching)

	status := exitOK
	select {
	case <-ctx.Done():
		logger.Info("shutting down: finishing the requests in flight", "timeout", o.shutdownTimeout)
	case err := <-served:
		logger.Error("REST server failed", "err", err)
		status = exitFailed
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		logger.Error("shutdown: requests still in flight were cut off", "err", err)
		hs.Close()
		status = exitFailed
	}
	stopWatch()
	<-watched
	models.close()
	logger.Info("stopped")
	return status
}

// build loads the model and makes the server.
func build(o *options, logger *slog.Logger) (*server, *manager, error) {
	met := newMetrics(o.name)
	sess := ops.DefaultSessionConfig()
	if o.intraOp > 0 {
		sess.IntraOpThreads = o.intraOp
	}
	if o.interOp > 0 {
		sess.InterOpThreads = o.interOp
	}
	mc := managerConfig{
		Base: o.base, Name: o.name, MaxPixels: o.maxPixels, Logger: logger,
		Load:      []exported.Option{exported.WithSessionConfig(sess), exported.WithMaxPixels(o.maxPixels)},
		OnVersion: func(v int64) { met.version.WithLabelValues(o.name).Set(float64(v)) },
		OnFailure: func(int64) { met.loadFailures.Inc() },
	}
	if o.batching {
		mc.Batching = &exported.BatchConfig{MaxBatch: o.maxBatch, MaxDelay: time.Duration(o.batchMicros) * time.Microsecond}
	}
	models, err := newManager(mc)
	if err != nil {
		return nil, nil, err
	}
	if err := models.poll(context.Background()); err != nil {
		return nil, nil, err
	}
	srv := newServer(config{
		Name: o.name, MaxBodyBytes: o.maxBody, MaxInstances: o.maxInstances, MaxInFlight: o.maxInFlight,
		RequestTimeout: time.Duration(o.timeoutMS) * time.Millisecond, Logger: logger, BatchingEnabled: o.batching,
	}, models, met)
	return srv, models, nil
}

package main

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, in a registry of its own (not the process-wide default
// one), so that several servers in one process (the tests) do not clash.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec   // by endpoint and HTTP code
	errors       *prometheus.CounterVec   // requests answered 4xx or 5xx, by endpoint
	latency      *prometheus.HistogramVec // seconds, by endpoint
	images       *prometheus.HistogramVec // images per predict request, by signature
	inflight     prometheus.Gauge
	version      *prometheus.GaugeVec // the version served
	loadFailures prometheus.Counter
}

func newMetrics(model string) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finegrain_serve_requests_total", Help: "HTTP requests answered, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finegrain_serve_request_errors_total", Help: "HTTP requests answered with a 4xx or 5xx status, by endpoint.",
		}, []string{"endpoint"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "finegrain_serve_request_duration_seconds",
			Help:    "Time from the request's arrival to its answer, by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5 ms .. 16 s
		}, []string{"endpoint"}),
		images: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "finegrain_serve_request_batch_size",
			Help:    "Images per predict request, by signature (with -enable_batching, requests are then merged into batches of up to -max_batch_size).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}, []string{"signature"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "finegrain_serve_requests_in_flight", Help: "Prediction requests being answered.",
		}),
		version: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "finegrain_serve_model_version", Help: "The model version being served.",
		}, []string{"model"}),
		loadFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finegrain_serve_model_load_failures_total", Help: "Model versions that failed to load.",
		}),
	}
	m.reg.MustRegister(m.requests, m.errors, m.latency, m.images, m.inflight, m.version, m.loadFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.version.WithLabelValues(model).Set(-1)
	return m
}

func (m *metrics) observe(endpoint string, code int, seconds float64) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
	if code >= 400 {
		m.errors.WithLabelValues(endpoint).Inc()
	}
	m.latency.WithLabelValues(endpoint).Observe(seconds)
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

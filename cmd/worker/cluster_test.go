package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/train"
)

// TestMain asks for deterministic kernels, as cmd/train does for train.deterministic; the workers this
// test starts inherit the setting.
func TestMain(m *testing.M) {
	if err := cli.Deterministic(); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// buildWorker builds this command into a temporary directory.
func buildWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "worker")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddrs returns n loopback addresses whose ports were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

// worker is a cmd/worker process of the test's cluster.
type worker struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan error
}

// startWorker starts task of cluster with one thread and waits until it listens.
func startWorker(t *testing.T, bin string, cluster []string, task int) *worker {
	t.Helper()
	w := &worker{done: make(chan error, 1)}
	w.cmd = exec.Command(bin, "-cluster", strings.Join(cluster, ","), "-task", string(rune('0'+task)), "-threads", "1", "-inter_threads", "2", "-deterministic")
	w.cmd.Stderr = &w.stderr
	w.cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2")
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.done <- w.cmd.Wait() }()
	t.Cleanup(func() { w.kill() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.Dial("tcp", cluster[task])
		if err == nil {
			c.Close()
			return w
		}
		if time.Now().After(deadline) {
			w.kill()
			t.Fatalf("worker %d did not listen on %s within 60 s: %s", task, cluster[task], w.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill ends the worker's process (TensorFlow cannot stop its server otherwise) and waits for it.
func (w *worker) kill() {
	if w.cmd.ProcessState != nil {
		return
	}
	_ = w.cmd.Process.Kill()
	<-w.done
	w.done <- nil // later kills return at once
}

// clusterConfig is a small ResNet-18 (×0.25, 32 px, 4 images per tower) on a generated 4-class set of
// 24 training images: 3 steps per epoch.
func clusterConfig(t *testing.T, data string) *train.Config {
	cfg := train.Default()
	cfg.Model.Attention, cfg.Model.Depth, cfg.Model.WidthMultiplier, cfg.Model.Reduction = "none", 18, 0.25, 4
	cfg.Data.Format, cfg.Data.Root, cfg.Data.ImageSize, cfg.Data.ResizeSize, cfg.Data.Workers = "synthetic", data, 32, 36, 1
	cfg.Data.ValFraction = 0
	s := &cfg.Data.Synthetic
	s.Classes, s.PerClass, s.TrainFraction, s.ImageSize = 4, 12, 0.5, 32
	cfg.Train.Epochs, cfg.Train.BatchSize, cfg.Train.Optimizer, cfg.Train.LR, cfg.Train.WarmupEpochs = 2, 8, "sgd", 0.01, 0
	cfg.Train.Selection, cfg.Train.Deterministic, cfg.Train.Seed = "last", true, 7
	cfg.Runtime.IntraOpThreads, cfg.Runtime.InterOpThreads = 1, 2
	cfg.Log.TensorBoard, cfg.Log.CAMImages = false, 0
	cfg.Cluster.OperationTimeoutS = 20
	return cfg
}

// logWatch is a run's log that calls on once, at the first line containing key.
type logWatch struct {
	mu  sync.Mutex
	buf bytes.Buffer
	key string
	on  func()
}

func (l *logWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if l.on != nil && strings.Contains(l.buf.String(), l.key) {
		l.on()
		l.on = nil
	}
	return len(p), nil
}

func runCluster(t *testing.T, cfg *train.Config, dir string, opt train.Options) error {
	t.Helper()
	if opt.Log == nil {
		opt.Log = &bytes.Buffer{}
	}
	opt.RunDir = dir
	_, err := train.Run(context.Background(), cfg, opt)
	if testing.Verbose() {
		t.Logf("log of %s:\n%v", dir, opt.Log)
	}
	return err
}

// modelVars reads the model variables of a run's latest checkpoint.
func modelVars(t *testing.T, cfg *train.Config, dir string) map[string][]float32 {
	t.Helper()
	_, prefix, err := train.ResolveCheckpoint(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := train.BuildInferenceGraph(cfg, cfg.Data.Synthetic.Classes, nil)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tf.NewSession(tg.G.TF(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := tg.Saver.RestoreFrom(sess, prefix); err != nil {
		t.Fatal(err)
	}
	vals := map[string][]float32{}
	for _, v := range tg.G.Variables() {
		r, err := sess.Run(nil, []tf.Output{v.Value}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var flat []float32
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case float32:
				flat = append(flat, x)
			case []float32:
				flat = append(flat, x...)
			case [][]float32:
				for _, e := range x {
					walk(e)
				}
			case [][][]float32:
				for _, e := range x {
					walk(e)
				}
			case [][][][]float32:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(r[0].Value())
		vals[v.Name] = flat
	}
	return vals
}

// worstRelative is the largest relative L2 difference of a variable of got from want.
func worstRelative(t *testing.T, got, want map[string][]float32) float64 {
	t.Helper()
	worst := 0.0
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) || len(w) == 0 {
			t.Fatalf("variable %s: %d values, want %d", name, len(g), len(w))
		}
		var d, n float64
		for i := range w {
			d += (float64(g[i]) - float64(w[i])) * (float64(g[i]) - float64(w[i]))
			n += float64(w[i]) * float64(w[i])
		}
		worst = max(worst, math.Sqrt(d)/math.Max(math.Sqrt(n), 1e-30))
	}
	return worst
}

// TestClusterTraining trains on two cmd/worker processes on loopback ports, one tower each: 3 steps
// end within 1e-5 of the same two towers in one process; then task 1 is killed as a resumed run
// starts, which must stop in bounded time naming task 1, its address and the resume command; with
// task 1 back, -resume ends with the weights of a run never interrupted, bit for bit.
func TestClusterTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two TensorFlow servers and trains five small runs")
	}
	bin := buildWorker(t)
	cluster := freeAddrs(t, 2)
	startWorker(t, bin, cluster, 0)
	w1 := startWorker(t, bin, cluster, 1)
	data := filepath.Join(t.TempDir(), "synth")

	local := clusterConfig(t, data)
	local.Runtime.Devices = []string{"/device:CPU:0", "/device:CPU:0"}
	var intr *train.Interrupted
	if err := runCluster(t, local, filepath.Join(t.TempDir(), "local"), train.Options{StopAfter: 3}); !errors.As(err, &intr) {
		t.Fatalf("local run: %v", err)
	}
	cfg := clusterConfig(t, data)
	cfg.Cluster.Workers = cluster
	three := filepath.Join(t.TempDir(), "three")
	if err := runCluster(t, cfg, three, train.Options{StopAfter: 3}); !errors.As(err, &intr) {
		t.Fatalf("cluster run: %v", err)
	}
	if d := worstRelative(t, modelVars(t, cfg, three), modelVars(t, local, intr.RunDir)); d > 1e-5 {
		t.Errorf("after 3 steps on two workers, a variable differs from the local towers by %.3g relative, want ≤ 1e-5", d)
	} else {
		t.Logf("two workers against local towers: largest relative difference %.3g", d)
	}

	whole := filepath.Join(t.TempDir(), "whole")
	if err := runCluster(t, cfg, whole, train.Options{}); err != nil {
		t.Fatalf("uninterrupted cluster run: %v", err)
	}
	parts := filepath.Join(t.TempDir(), "parts")
	if err := runCluster(t, cfg, parts, train.Options{StopAfter: 2}); !errors.As(err, &intr) {
		t.Fatalf("first part: %v", err)
	}
	var killed time.Time
	log := &logWatch{key: "resuming after step", on: func() { w1.kill(); killed = time.Now() }}
	err := runCluster(t, cfg, parts, train.Options{Resume: true, Log: log})
	var lost *train.WorkerLost
	if !errors.As(err, &lost) || lost.Task != 1 || lost.Addr != cluster[1] || !strings.Contains(err.Error(), "go run ./cmd/train -resume -out "+parts) {
		t.Fatalf("run with task 1 killed: %v; want a *train.WorkerLost naming task 1 (%s) and the resume command", err, cluster[1])
	}
	if waited := time.Since(killed); waited > time.Duration(cfg.Cluster.OperationTimeoutS+30)*time.Second {
		t.Errorf("the run stopped %v after task 1 died, want within cluster.operation_timeout_s (%gs) and a margin", waited, cfg.Cluster.OperationTimeoutS)
	}
	t.Logf("stopped %v after task 1 was killed: %v", time.Since(killed).Round(time.Millisecond), err)

	startWorker(t, bin, cluster, 1)
	if err := runCluster(t, cfg, parts, train.Options{Resume: true}); err != nil {
		t.Fatalf("resume with task 1 back: %v", err)
	}
	a, b := modelVars(t, cfg, whole), modelVars(t, cfg, parts)
	for name, w := range a {
		if !slicesEqual(w, b[name]) {
			t.Errorf("variable %s differs between the resumed and the uninterrupted run", name)
		}
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

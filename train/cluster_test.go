package train

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildWorker builds cmd/worker into a temporary directory.
func buildWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "worker")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/finegrain/finegrain/cmd/worker").CombinedOutput(); err != nil {
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
	w.cmd = exec.Command(bin, "-cluster", strings.Join(cluster, ","), "-task", strconv.Itoa(task), "-threads", "1", "-inter_threads", "2", "-deterministic")
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

// runCluster runs cfg on tinyData in dir.
func runCluster(t *testing.T, cfg *Config, dir string, opt Options) error {
	t.Helper()
	if opt.Log == nil {
		opt.Log = &bytes.Buffer{}
	}
	opt.RunDir, opt.Data = dir, tinyData(cfg)
	_, err := Run(context.Background(), cfg, opt)
	if testing.Verbose() {
		t.Logf("log of %s:\n%v", dir, opt.Log)
	}
	return err
}

// TestClusterTraining trains on two cmd/worker processes on loopback ports, one tower each: 3 steps
// end within 1e-5 of the same two towers in one process; then task 1 is killed as a resumed run
// starts, which must stop in bounded time naming task 1, its address and the resume command; with
// task 1 back, -resume ends with the weights, state and metrics of a run never interrupted, bit for bit.
// The workers inherit TestMain's deterministic kernels.
func TestClusterTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two TensorFlow servers and trains five small runs")
	}
	bin := buildWorker(t)
	cluster := freeAddrs(t, 2)
	startWorker(t, bin, cluster, 0)
	w1 := startWorker(t, bin, cluster, 1)

	local := towerConfig(t, "none")
	local.Train.Epochs = 2
	local.Runtime.Devices = []string{"/device:CPU:0", "/device:CPU:0"}
	want := trainSteps(t, local, 3)
	cfg := towerConfig(t, "none")
	cfg.Train.Epochs = 2
	cfg.Cluster.Workers, cfg.Cluster.OperationTimeoutS = cluster, 20
	sameVars(t, "two towers on two workers", trainSteps(t, cfg, 3), want, checkpointVars(t, local, ""), 1e-5)

	whole := filepath.Join(t.TempDir(), "whole")
	if err := runCluster(t, cfg, whole, Options{}); err != nil {
		t.Fatalf("uninterrupted cluster run: %v", err)
	}
	parts := filepath.Join(t.TempDir(), "parts")
	var intr *Interrupted
	if err := runCluster(t, cfg, parts, Options{StopAfter: 2}); !errors.As(err, &intr) {
		t.Fatalf("first part: %v", err)
	}
	var killed time.Time
	log := &logWatch{key: "resuming after step", on: func() { w1.kill(); killed = time.Now() }}
	err := runCluster(t, cfg, parts, Options{Resume: true, Log: log})
	var lost *WorkerLost
	if !errors.As(err, &lost) || lost.Task != 1 || lost.Addr != cluster[1] || !strings.Contains(err.Error(), "go run ./cmd/train -resume -out "+parts) {
		t.Fatalf("run with task 1 killed: %v; want a *WorkerLost naming task 1 (%s) and the resume command", err, cluster[1])
	}
	if waited := time.Since(killed); waited > time.Duration(cfg.Cluster.OperationTimeoutS+30)*time.Second {
		t.Errorf("the run stopped %v after task 1 died, want within cluster.operation_timeout_s (%gs) and a margin", waited, cfg.Cluster.OperationTimeoutS)
	}
	t.Logf("stopped %v after task 1 was killed: %v", time.Since(killed).Round(time.Millisecond), err)

	startWorker(t, bin, cluster, 1)
	if err := runCluster(t, cfg, parts, Options{Resume: true}); err != nil {
		t.Fatalf("resume with task 1 back: %v", err)
	}
	w1b, s1, m1, sum1 := finalState(t, whole)
	w2b, s2, m2, sum2 := finalState(t, parts)
	if !bytes.Equal(w1b, w2b) {
		t.Error("final weights differ between the resumed and the uninterrupted cluster run")
	}
	if !reflect.DeepEqual(s1, s2) || !reflect.DeepEqual(m1, m2) || !reflect.DeepEqual(sum1, sum2) {
		t.Errorf("final state, metrics or summary differ:\n%+v\n%+v", m1, m2)
	}
}

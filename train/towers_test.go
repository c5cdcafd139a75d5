package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/internal/tfserver"
	"github.com/finegrain/finegrain/nets"
)

func TestPlacementOf(t *testing.T) {
	tests := []struct {
		name             string
		devices, workers []string
		want             Placement
		err              string
	}{
		{name: "default", want: Placement{Devices: []string{""}}},
		{name: "two local devices", devices: []string{"/device:CPU:0", "/device:CPU:1"},
			want: Placement{Devices: []string{"/device:CPU:0", "/device:CPU:1"}, Param: "/device:CPU:0"}},
		{name: "two workers", workers: []string{"127.0.0.1:2222", "127.0.0.1:2223"},
			want: Placement{Devices: []string{tfserver.Device(0, "CPU", 0), tfserver.Device(1, "CPU", 0)}, Param: tfserver.Device(0, "CPU", 0),
				Workers: []string{"127.0.0.1:2222", "127.0.0.1:2223"}}},
		{name: "two workers with two GPUs each", workers: []string{"h0:1", "h1:1"}, devices: []string{"/device:GPU:0", "/device:GPU:1"},
			want: Placement{Devices: []string{tfserver.Device(0, "GPU", 0), tfserver.Device(0, "GPU", 1), tfserver.Device(1, "GPU", 0), tfserver.Device(1, "GPU", 1)},
				Param: tfserver.Device(0, "GPU", 0), Workers: []string{"h0:1", "h1:1"}}},
		{name: "bad worker", workers: []string{"h0:1", "h1"}, err: `cluster.workers: cluster "h0:1,h1": task 1: address "h1": want host:port`},
		{name: "repeated worker", workers: []string{"h0:1", "h0:1"}, err: "repeats the address h0:1"},
		{name: "task device with workers", workers: []string{"h0:1"}, devices: []string{"/job:worker/task:0/device:CPU:0"}, err: "runtime.devices"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.Runtime.Devices, cfg.Cluster.Workers = tt.devices, tt.workers
			got, err := PlacementOf(cfg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("PlacementOf: %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("PlacementOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTowerKeysValidated(t *testing.T) {
	tests := []struct {
		sets []string
		want string // "" = valid
	}{
		{[]string{"runtime.devices=[/device:CPU:0, /device:CPU:1]", "runtime.cpu_devices=2"}, ""},
		{[]string{"runtime.devices=[a, b, c]", "train.batch_size=8"}, "train.batch_size: 8: want a multiple of the 3 towers"},
		{[]string{"cluster.workers=[h0:1, h1:1]", "runtime.devices=[/device:GPU:0, /device:GPU:1]", "train.batch_size=6"}, "want a multiple of the 4 towers"},
		{[]string{"runtime.devices=[\"\"]"}, "runtime.devices"},
		{[]string{"runtime.cpu_devices=-1"}, "runtime.cpu_devices: -1"},
		{[]string{"cluster.workers=[h0:1, h0:1]"}, "cluster.workers"},
		{[]string{"cluster.workers=[h0:1]", "runtime.devices=[GPU0]"}, "runtime.devices"},
		{[]string{"cluster.workers=[h0:1]", "cluster.operation_timeout_s=0"}, "cluster.operation_timeout_s: 0"},
	}
	for _, tt := range tests {
		_, err := Load(LoadOptions{Sets: append([]string{"data.root=/data"}, tt.sets...)})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.sets, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: %v, want an error with %q", tt.sets, err, tt.want)
		}
	}
}

func TestWorkerError(t *testing.T) {
	p := Placement{Workers: []string{"127.0.0.1:2222", "127.0.0.1:2223"}}
	tests := []struct {
		name      string
		p         Placement
		err       error
		resumable bool
		want      []string // substrings; nil: err returned as it is
	}{
		{name: "local run", p: Placement{}, err: errors.New("Unavailable: task:1")},
		{name: "not a network error", p: p, err: errors.New("Invalid argument: shapes differ")},
		{name: "interrupted", p: p, err: &Interrupted{RunDir: "r", Checkpoint: "c"}},
		{name: "task named", p: p, resumable: true,
			err:  errors.New("epoch 1, step 3: Unavailable: From /job:worker/replica:0/task:1:\nSocket closed"),
			want: []string{"lost worker task 1 (127.0.0.1:2223)", "go run ./cmd/train -resume -out runs/x", "-cluster 127.0.0.1:2222,127.0.0.1:2223 -task I"}},
		{name: "address named", p: p,
			err:  errors.New("new session: Unavailable: failed to connect to all addresses; last error: ipv4:127.0.0.1:2222: Connection refused"),
			want: []string{"lost worker task 0 (127.0.0.1:2222)", "start the run again"}},
		{name: "timeout", p: p, resumable: true,
			err:  errors.New("DeadlineExceeded: Timed out waiting for /job:worker/replica:0/task:0"),
			want: []string{"lost worker task 0 (127.0.0.1:2222)", "-resume"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := workerError(tt.p, "runs/x", tt.resumable, tt.err)
			if tt.want == nil {
				if got != tt.err {
					t.Fatalf("workerError = %v, want the error unchanged", got)
				}
				return
			}
			var wl *WorkerLost
			if !errors.As(got, &wl) || !errors.Is(got, tt.err) {
				t.Fatalf("workerError = %#v, want a *WorkerLost wrapping the error", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("message %q lacks %q", got, w)
				}
			}
		})
	}
}

// towerConfig is a small ResNet-18 (×0.25, 32 px, 4 images per tower) on tinyData: SGD without
// warm-up, so three steps move every variable.
func towerConfig(t *testing.T, attention string) *Config {
	cfg := tinyConfig(t.TempDir())
	cfg.Model.Attention = nets.Attention(attention)
	cfg.Model.WidthMultiplier, cfg.Model.Reduction, cfg.Model.Dropout = 0.25, 4, 0
	cfg.Train.LR, cfg.Train.WarmupEpochs, cfg.Train.Epochs = 0.01, 0, 1
	cfg.Runtime.IntraOpThreads, cfg.Runtime.InterOpThreads = 1, 2
	cfg.Log.CAMImages, cfg.Log.TensorBoard = 0, false
	return cfg
}

// trainSteps trains cfg with nets.Build for steps steps in a new run directory and returns every model
// variable of the checkpoint it stops with.
func trainSteps(t *testing.T, cfg *Config, steps int64) map[string][]float32 {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	var intr *Interrupted
	_, err := Run(context.Background(), cfg, Options{RunDir: dir, Data: tinyData(cfg), Quiet: true, StopAfter: steps})
	if !errors.As(err, &intr) || intr.Step != steps {
		t.Fatalf("run of %d steps: %v", steps, err)
	}
	return checkpointVars(t, cfg, dir)
}

// checkpointVars reads the model variables of the run's latest checkpoint, or their initial values
// when dir is "".
func checkpointVars(t *testing.T, cfg *Config, dir string) map[string][]float32 {
	t.Helper()
	tg, err := BuildInferenceGraph(cfg, len(tinyData(cfg).Classes), nil)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tf.NewSession(tg.G.TF(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if dir == "" {
		if _, err := sess.Run(nil, nil, []*tf.Operation{tg.G.InitOp()}); err != nil {
			t.Fatal(err)
		}
	} else {
		_, prefix, err := ResolveCheckpoint(dir, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := tg.Saver.RestoreFrom(sess, prefix); err != nil {
			t.Fatal(err)
		}
	}
	vals := map[string][]float32{}
	for _, v := range tg.G.Variables() {
		r, err := sess.Run(nil, []tf.Output{v.Value}, nil)
		if err != nil {
			t.Fatal(err)
		}
		vals[v.Name] = flat32(r[0])
	}
	return vals
}

// relativeL2 is |a-b| / |b|.
func relativeL2(a, b []float32) float64 {
	var d, n float64
	for i := range b {
		d += (float64(a[i]) - float64(b[i])) * (float64(a[i]) - float64(b[i]))
		n += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(d) / math.Max(math.Sqrt(n), 1e-30)
}

// sameVars requires every variable of got within tol of want, relative, and got to differ from init
// (the untrained weights) by far more than tol in most variables.
func sameVars(t *testing.T, what string, got, want, init map[string][]float32, tol float64) {
	t.Helper()
	worst, moved := 0.0, 0
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) || len(w) == 0 {
			t.Fatalf("%s: variable %s: %d values, want %d", what, name, len(g), len(w))
		}
		d := relativeL2(g, w)
		if d > tol {
			t.Errorf("%s: %s differs by %.3g relative, want ≤ %g", what, name, d, tol)
		}
		worst = max(worst, d)
		if relativeL2(w, init[name]) > 100*tol {
			moved++
		}
	}
	if moved < len(want)/2 {
		t.Errorf("%s: only %d of %d variables moved in training: the comparison says little", what, moved, len(want))
	}
	t.Logf("%s: largest relative difference %.3g over %d variables, %d moved", what, worst, len(want), moved)
}

// TestTowersTrainLikeOneDevice trains 3 steps with two towers on two CPU devices (runtime.cpu_devices
// 2) and compares every model variable with the same two towers on one device, computed the same way
// (each half-batch normalised by its own statistics), for none and csca.
func TestTowersTrainLikeOneDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four small ResNets")
	}
	for _, attention := range []string{"none", "csca"} {
		t.Run(attention, func(t *testing.T) {
			ref := towerConfig(t, attention)
			ref.Runtime.Devices = []string{"/device:CPU:0", "/device:CPU:0"}
			init := checkpointVars(t, ref, "")
			want := trainSteps(t, ref, 3)
			cfg := towerConfig(t, attention)
			cfg.Runtime.CPUDevices = 2
			cfg.Runtime.Devices = []string{"/device:CPU:0", "/device:CPU:1"}
			sameVars(t, "two towers on CPU:0 and CPU:1", trainSteps(t, cfg, 3), want, init, 1e-5)
		})
	}
}

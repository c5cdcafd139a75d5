package train

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/finegrain/finegrain/internal/tfserver"
	"github.com/finegrain/finegrain/ops"
)

// Placement is where data-parallel training puts its towers and its variables, and which session runs
// them: the configuration's runtime.devices and cluster.workers resolved.
type Placement struct {
	// Devices has one entry per tower; [""] is the one tower of a plain run, placed by TensorFlow.
	Devices []string
	// Param is the parameter device: the variables, the optimiser, the input slicing, the averaging of
	// the gradients and the evaluation head. "" leaves them to TensorFlow.
	Param string
	// Workers are the host:port addresses of the cluster's tasks (cluster.workers); empty for a session
	// of this process.
	Workers []string
}

// PlacementOf resolves cfg's runtime.devices and cluster.workers: without workers, one tower per
// entry of runtime.devices (one unplaced tower when it is empty); with workers, one tower per worker
// and per entry of runtime.devices on each (CPU:0 of each worker when it is empty), the variables on
// the first tower's device.
func PlacementOf(cfg *Config) (Placement, error) {
	devs := cfg.Runtime.Devices
	if len(cfg.Cluster.Workers) == 0 {
		if len(devs) == 0 {
			return Placement{Devices: []string{""}}, nil
		}
		return Placement{Devices: append([]string(nil), devs...), Param: devs[0]}, nil
	}
	workers, err := tfserver.ParseCluster(strings.Join(cfg.Cluster.Workers, ","))
	if err != nil {
		return Placement{}, fmt.Errorf("cluster.workers: %w", err)
	}
	if len(devs) == 0 {
		devs = []string{"/device:CPU:0"}
	}
	p := Placement{Workers: workers}
	for task := range workers {
		for _, d := range devs {
			kind, index, err := localDevice(d)
			if err != nil {
				return Placement{}, fmt.Errorf("runtime.devices: %w", err)
			}
			p.Devices = append(p.Devices, tfserver.Device(task, kind, index))
		}
	}
	p.Param = p.Devices[0]
	return p, nil
}

var localDeviceRE = regexp.MustCompile(`^/device:([A-Z]+):([0-9]+)$`)

// localDevice splits a runtime.devices entry of a cluster run, which names a device of every worker.
func localDevice(d string) (kind string, index int, err error) {
	m := localDeviceRE.FindStringSubmatch(d)
	if m == nil {
		return "", 0, fmt.Errorf("%q: with cluster.workers each entry names a device of every worker, like /device:GPU:0", d)
	}
	index, err = strconv.Atoi(m[2])
	if err != nil {
		return "", 0, fmt.Errorf("runtime.devices: %q: %w", d, err)
	}
	return m[1], index, nil
}

// Target is the session target: the first worker's master, or "" for this process.
func (p Placement) Target() string {
	if len(p.Workers) == 0 {
		return ""
	}
	return "grpc://" + p.Workers[0]
}

// taskRE finds the task a TensorFlow error is about.
var taskRE = regexp.MustCompile(`/job:` + tfserver.Job + `/replica:0/task:([0-9]+)`)

// WorkerLost is the error of a cluster run that lost a worker (or never reached one): TensorFlow's error
// with the task and address it names, and how to continue once the worker is back.
type WorkerLost struct {
	Task    int    // -1 when TensorFlow's error names no task
	Addr    string // the task's host:port
	Workers []string
	RunDir  string
	Resume  bool // a checkpoint exists to resume from
	Err     error
}

func (e *WorkerLost) Error() string {
	who := fmt.Sprintf("a worker of cluster %s", strings.Join(e.Workers, ","))
	if e.Task >= 0 {
		who = fmt.Sprintf("worker task %d (%s)", e.Task, e.Addr)
	}
	msg := fmt.Sprintf("lost %s: %v\nCheck that every worker runs (go run ./cmd/worker -cluster %s -task I)", who, e.Err, strings.Join(e.Workers, ","))
	if e.Resume {
		return msg + fmt.Sprintf(", then resume with: go run ./cmd/train -resume -out %s", e.RunDir)
	}
	return msg + ", then start the run again."
}

func (e *WorkerLost) Unwrap() error { return e.Err }

// workerError explains err, the error of a cluster run, as a lost worker when TensorFlow reports one
// unreachable, gone, or past runtime.operation_timeout_s; other errors are returned as they are.
func workerError(p Placement, runDir string, resumable bool, err error) error {
	if err == nil || len(p.Workers) == 0 {
		return err
	}
	var il *Interrupted
	var nf *NonFiniteLoss
	if errors.As(err, &il) || errors.As(err, &nf) {
		return err
	}
	text := err.Error()
	lost := false
	for _, s := range []string{"Unavailable", "unavailable", "Socket closed", "Connection reset", "connection refused", "Connection refused",
		"DeadlineExceeded", "Deadline Exceeded", "deadline exceeded", "Timed out", "timed out", "failed to connect", "Aborted", "UNAVAILABLE"} {
		if strings.Contains(text, s) {
			lost = true
			break
		}
	}
	if !lost {
		return err
	}
	e := &WorkerLost{Task: -1, Workers: p.Workers, RunDir: runDir, Resume: resumable, Err: err}
	if m := taskRE.FindStringSubmatch(text); m != nil {
		if t, convErr := strconv.Atoi(m[1]); convErr == nil && t < len(p.Workers) {
			e.Task, e.Addr = t, p.Workers[t]
		}
	}
	if e.Task < 0 {
		for i, a := range p.Workers {
			if strings.Contains(text, a) {
				e.Task, e.Addr = i, a
				break
			}
		}
	}
	return e
}

// newClusterSession opens a session on the cluster's first worker. Every step that waits longer than
// timeoutS seconds for a worker fails (TensorFlow's operation_timeout_in_ms), so a worker that hangs
// or vanishes stops the run in bounded time instead of blocking it. Each session keeps its variables
// to itself (isolate_session_state), so a resumed run does not meet a dead run's state on the workers.
func newClusterSession(sc ops.SessionConfig, pl Placement, timeoutS float64, g *tf.Graph) (*tf.Session, error) {
	if sc.Deterministic && !ops.DeterministicKernels() {
		return nil, fmt.Errorf("new session: deterministic kernels need %s=1 in the process environment", ops.DeterministicEnv)
	}
	opts, err := sc.Options()
	if err != nil {
		return nil, err
	}
	cp := &pb.ConfigProto{}
	if err := proto.Unmarshal(opts.Config, cp); err != nil {
		return nil, fmt.Errorf("session config: %w", err)
	}
	cp.OperationTimeoutInMs = int64(timeoutS * 1000)
	cp.IsolateSessionState = true
	if opts.Config, err = proto.Marshal(cp); err != nil {
		return nil, fmt.Errorf("session config: %w", err)
	}
	opts.Target = pl.Target()
	sess, err := tf.NewSession(g, opts)
	if err != nil {
		return nil, fmt.Errorf("new session on %s: %w", opts.Target, err)
	}
	return sess, nil
}

// clusterError explains err as a lost worker where it is one (workerError).
func (r *runner) clusterError(err error) error {
	if err == nil {
		return nil
	}
	pl, perr := PlacementOf(r.cfg)
	if perr != nil {
		return err
	}
	err = workerError(pl, r.dir, r.ckpt != nil && r.latest() != "", err)
	var lost *WorkerLost
	if errors.As(err, &lost) && lost.Task < 0 {
		// TensorFlow's error (a timeout) names no task: name the first that does not answer at all.
		for i, a := range pl.Workers {
			c, derr := net.DialTimeout("tcp", a, 2*time.Second)
			if derr != nil {
				lost.Task, lost.Addr = i, a
				break
			}
			c.Close()
		}
	}
	return err
}

package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/pipeline/synth"
	"github.com/finegrain/finegrain/train"
)

var (
	longFlag  = flag.Bool("reliability.long", os.Getenv("FINEGRAIN_LONG") == "1", "run the long kill campaign (also FINEGRAIN_LONG=1)")
	killsFlag = flag.Int("reliability.kills", 0, "kills in the kill campaign (0: one per phase, or 24 with -reliability.long)")
	seedFlag  = flag.Uint64("reliability.seed", 1, "seed of the kill moments")
	binFlag   = flag.String("reliability.bin", "", "`directory` of prebuilt commands (go build -o DIR ./cmd/...) instead of building them")
)

// suite holds what the tests share, each built once on first use: the commands, the tiny dataset and
// the uninterrupted reference run.
type suite struct {
	dir string // removed after the tests

	mu       sync.Mutex
	bins     map[string]string
	data     string
	refs     map[int]*runRecord // reference runs by number of epochs
	restorer map[string]*restorer
}

var shared suite

func TestMain(m *testing.M) {
	cli.QuietLogs() // the checkpoint checks run TensorFlow in this process
	flag.Parse()
	dir, err := os.MkdirTemp("", "finegrain-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared.dir = dir
	code := m.Run()
	for _, r := range shared.restorer {
		r.sess.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// command builds cmd/<name> once and returns the executable's path. Under -short it skips the test:
// building and running the commands takes longer than a short test may.
func command(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("builds and runs cmd/%s", name)
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if p, ok := shared.bins[name]; ok {
		return p
	}
	if *binFlag != "" {
		return filepath.Join(*binFlag, name)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building cmd/%s needs the go command: %v", name, err)
	}
	out := filepath.Join(shared.dir, "bin", name)
	cmd := exec.Command(goTool, "build", "-o", out, "github.com/finegrain/finegrain/cmd/"+name)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/%s: %v\n%s", name, err, b)
	}
	if shared.bins == nil {
		shared.bins = map[string]string{}
	}
	shared.bins[name] = out
	return out
}

// tinyConfig is the configuration of every training run here: a CSCA-ResNet18 at a quarter of the
// width on 32-pixel images of a 3-class synthetic benchmark (30 training, 6 validation and 24 test
// images), batch 4: 7 steps an epoch, deterministic, a log line per step.
func tinyConfig(dataRoot string, epochs int) string {
	return fmt.Sprintf(`model:
  attention: csca
  depth: 18
  width_multiplier: 0.25
data:
  format: synthetic
  root: %s
  image_size: 32
  resize_size: 36
  val_fraction: 0.2
  workers: 2
  synthetic:
    classes: 3
    per_class: 20
    train_fraction: 0.6
    image_size: 32
train:
  epochs: %d
  batch_size: 4
  seed: 7
  deterministic: true
  warmup_epochs: 0.5
checkpoint:
  keep: 2
log:
  every_steps: 1
  cam_images: 2
runtime:
  intra_op_threads: 1
  inter_op_threads: 1
`, dataRoot, epochs)
}

const (
	tinyClasses       = 3
	tinyStepsPerEpoch = 7
)

// writeConfig writes text to dir/name and returns the path.
func writeConfig(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// dataset generates the tiny synthetic benchmark once (as cmd/train would) and returns its root.
func dataset(t testing.TB) string {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.data != "" {
		return shared.data
	}
	root := filepath.Join(shared.dir, "data")
	cfg, err := train.Load(train.LoadOptions{Path: writeConfig(t, shared.dir, "data.yaml", tinyConfig(root, 2))})
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.Generate(context.Background(), root, cfg.Data.SynthConfig()); err != nil {
		t.Fatal(err)
	}
	shared.data = root
	return root
}

// childEnv is the environment of the commands: this one without FINEGRAIN_* variables (they would
// override configuration keys), with TensorFlow's INFO lines off, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, train.EnvPrefix+"_") && !strings.HasPrefix(kv, "TF_CPP_MIN_LOG_LEVEL=") {
			env = append(env, kv)
		}
	}
	return append(append(env, "TF_CPP_MIN_LOG_LEVEL=2"), extra...)
}

// event is something a running command did: a line of output, or a new entry in the run's
// checkpoints directory.
type event struct {
	at    time.Time
	line  string
	entry string
}

// proc is a running command whose output lines and checkpoint directory entries arrive as events.
type proc struct {
	cmd    *exec.Cmd
	events chan event // closed once the process has exited and its output is read
	exited chan struct{}
	err    error // the exit status, once exited is closed

	mu  sync.Mutex
	out bytes.Buffer // all output
}

// start runs bin with args; with watch set, entries appearing in watch are events too (polled every
// 200 µs: a checkpoint is written in milliseconds).
func start(t testing.TB, bin string, args []string, watch string, env []string) *proc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: exec.Command(bin, args...), events: make(chan event, 4096), exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr, p.cmd.Env = w, w, env
	if err := p.cmd.Start(); err != nil {
		r.Close()
		w.Close()
		t.Fatal(err)
	}
	w.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			now := time.Now()
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			p.events <- event{at: now, line: sc.Text()}
		}
	}()
	go func() {
		defer wg.Done()
		if watch == "" {
			return
		}
		seen := map[string]bool{}
		if entries, err := os.ReadDir(watch); err == nil { // before the start
			for _, e := range entries {
				seen[e.Name()] = true
			}
		}
		for {
			select {
			case <-p.exited:
				return
			default:
			}
			if entries, err := os.ReadDir(watch); err == nil {
				now := time.Now()
				for _, e := range entries {
					if !seen[e.Name()] {
						seen[e.Name()] = true
						p.events <- event{at: now, entry: e.Name()}
					}
				}
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
		wg.Wait()
		close(p.events)
	}()
	return p
}

// output is everything the command printed so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// wait drains the events and returns the exit code and the output.
func (p *proc) wait() (int, string) {
	for range p.events {
	}
	return exitCode(p.err), p.output()
}

// freeze stops the process with SIGSTOP and waits until it is stopped, so that what is on disk is
// what a kill at this moment leaves.
func (p *proc) freeze() error {
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return err
		}
		// pid (comm) state ...: the state follows the last ')'.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't' || b[i+2] == 'Z') {
			return nil
		}
		time.Sleep(100 * time.Microsecond)
	}
	return fmt.Errorf("process %d did not stop", pid)
}

// kill ends the process with SIGKILL.
func (p *proc) kill() {
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

// runCmd runs bin to completion and returns its exit code and output.
func runCmd(t testing.TB, bin string, args []string, env []string) (int, string) {
	t.Helper()
	return start(t, bin, args, "", env).wait()
}

// noPanic fails when output shows a Go panic or a runtime crash.
func noPanic(t testing.TB, out string) {
	t.Helper()
	for _, s := range []string{"panic:", "goroutine ", "SIGSEGV", "fatal error:", "runtime error"} {
		if strings.Contains(out, s) {
			t.Errorf("output shows a crash (%q):\n%s", s, out)
			return
		}
	}
}

// runRecord is a finished run and the times at which it passed the markers the kill test aims at.
type runRecord struct {
	dir    string
	config string
	// marks maps a marker (see markerOf) to when it was seen.
	marks map[string]time.Time
}

// reference trains the tiny configuration for epochs without interruption, once.
func reference(t testing.TB, epochs int) *runRecord {
	t.Helper()
	root := dataset(t)
	bin := command(t, "train")
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if r, ok := shared.refs[epochs]; ok {
		return r
	}
	dir := filepath.Join(shared.dir, fmt.Sprintf("reference-%d", epochs))
	cfg := writeConfig(t, shared.dir, fmt.Sprintf("tiny-%d.yaml", epochs), tinyConfig(root, epochs))
	rec := &runRecord{dir: dir, config: cfg, marks: map[string]time.Time{}}
	p := start(t, bin, []string{"-config", cfg, "-out", dir}, filepath.Join(dir, "checkpoints"), childEnv())
	for ev := range p.events {
		if m := markerOf(ev); m != "" {
			rec.marks[m] = ev.at
		}
	}
	if code := exitCode(p.err); code != 0 {
		t.Fatalf("reference run: exit status %d\n%s", code, p.output())
	}
	if shared.refs == nil {
		shared.refs = map[int]*runRecord{}
	}
	shared.refs[epochs] = rec
	return rec
}

// markerOf names the progress markers of a run: "step E S" (the log line after step S of epoch E),
// "summary E" (the epoch's summary line), "test" (the final line), "tmp N" and "ckpt N" (a checkpoint
// of step N being written, and renamed into place).
func markerOf(ev event) string {
	var e, n, s, m int
	switch {
	case ev.entry != "":
		if strings.HasPrefix(ev.entry, ".tmp-ckpt-") {
			if _, err := fmt.Sscanf(ev.entry, ".tmp-ckpt-%09d-", &s); err == nil {
				return fmt.Sprintf("tmp %d", s)
			}
		}
		if _, err := fmt.Sscanf(ev.entry, "ckpt-%09d", &s); err == nil {
			return fmt.Sprintf("ckpt %d", s)
		}
	case strings.HasPrefix(ev.line, "test ("):
		return "test"
	case strings.HasPrefix(ev.line, "epoch "):
		if _, err := fmt.Sscanf(ev.line, "epoch %d/%d step %d/%d ", &e, &n, &s, &m); err == nil {
			return fmt.Sprintf("step %d %d", e, s)
		}
		if _, err := fmt.Sscanf(ev.line, "epoch %d/%d: ", &e, &n); err == nil {
			return fmt.Sprintf("summary %d", e)
		}
	}
	return ""
}

// restorer restores checkpoints of one configuration into the full training graph (model and
// optimiser state), as a resumed run does.
type restorer struct {
	sess  *tf.Session
	saver *ops.Saver
}

func restorerFor(t testing.TB, configPath string) *restorer {
	t.Helper()
	text, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if r, ok := shared.restorer[string(text)]; ok {
		return r
	}
	cfg, err := train.Load(train.LoadOptions{Path: configPath})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := train.BuildGraph(cfg, tinyClasses, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.AddOptimizer(cfg.Train, nil); err != nil {
		t.Fatal(err)
	}
	sess, err := ops.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1}.NewSession(tg.G.TF())
	if err != nil {
		t.Fatal(err)
	}
	r := &restorer{sess: sess, saver: tg.Saver}
	if shared.restorer == nil {
		shared.restorer = map[string]*restorer{}
	}
	shared.restorer[string(text)] = r
	return r
}

// checkCheckpoints verifies every checkpoint of a run directory: checkpoint.json parses and names
// checkpoints that exist, and every checkpoint directory on disk has a state.json that parses and
// variables that restore into the training graph. It returns the number of checkpoints and whether a
// checkpoint.json exists.
func checkCheckpoints(t testing.TB, runDir string) (n int, hasPointer bool) {
	t.Helper()
	cdir := filepath.Join(runDir, "checkpoints")
	entries, err := os.ReadDir(cdir)
	if os.IsNotExist(err) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "ckpt-") {
			names = append(names, e.Name())
		}
	}
	ptr, err := train.ReadPointer(cdir)
	switch {
	case os.IsNotExist(err):
	case err != nil:
		t.Errorf("checkpoint.json unreadable: %v", err)
	default:
		hasPointer = true
		for _, n := range append(slices.Clone(ptr.Checkpoints), ptr.Latest, ptr.Best) {
			if n != "" && !slices.Contains(names, n) {
				t.Errorf("checkpoint.json names %s, which is not on disk (%v)", n, names)
			}
		}
	}
	if len(names) == 0 {
		return 0, hasPointer
	}
	r := restorerFor(t, filepath.Join(runDir, "config.yaml"))
	for _, name := range names {
		d := filepath.Join(cdir, name)
		if _, err := train.ReadState(d); err != nil {
			t.Errorf("checkpoint %s: %v", name, err)
		}
		if err := r.saver.RestoreFrom(r.sess, filepath.Join(d, "model")); err != nil {
			t.Errorf("checkpoint %s does not restore: %v", name, err)
		}
	}
	return len(names), hasPointer
}

// outcome is what must not depend on interruptions: the latest checkpoint's variables (the bytes of
// the tensor bundle), its state and the metrics and summary without timings, and the test split's
// confusion matrix and per-class results.
type outcome struct {
	Weights   []byte
	State     any
	Metrics   []any
	Summary   any
	Confusion []byte
	PerClass  []byte
}

func readOutcome(t testing.TB, dir string) outcome {
	t.Helper()
	ck, prefix, err := train.ResolveCheckpoint(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	var o outcome
	o.Weights = mustRead(t, prefix+".data-00000-of-00001")
	o.State = untimed(t, mustRead(t, filepath.Join(ck, "state.json")))
	for _, line := range strings.Split(strings.TrimSpace(string(mustRead(t, filepath.Join(dir, "metrics.jsonl")))), "\n") {
		o.Metrics = append(o.Metrics, untimed(t, []byte(line)))
	}
	sum := untimed(t, mustRead(t, filepath.Join(dir, "summary.json"))).(map[string]any)
	delete(sum, "checkpoint") // a path inside the run directory
	o.Summary = sum
	o.Confusion = mustRead(t, filepath.Join(dir, "confusion_test.csv"))
	o.PerClass = mustRead(t, filepath.Join(dir, "per_class_test.csv"))
	return o
}

// untimed decodes a JSON document and drops the timings (keys ending in seconds or per_second).
func untimed(t testing.TB, text []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(text, &v); err != nil {
		t.Fatalf("%v: %s", err, text)
	}
	var strip func(any)
	strip = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "seconds" || strings.HasSuffix(k, "_seconds") || strings.HasSuffix(k, "per_second") {
					delete(x, k)
					continue
				}
				strip(e)
			}
		case []any:
			for _, e := range x {
				strip(e)
			}
		}
	}
	strip(v)
	return v
}

// compareOutcomes reports every difference between a run and its reference, and whether there was none.
func compareOutcomes(t testing.TB, want, got outcome) bool {
	t.Helper()
	equal := true
	if !bytes.Equal(want.Weights, got.Weights) {
		t.Error("final weights differ from the uninterrupted run")
		equal = false
	}
	for _, c := range []struct {
		name      string
		want, got any
	}{
		{"checkpoint state", want.State, got.State},
		{"metrics.jsonl", want.Metrics, got.Metrics},
		{"summary.json", want.Summary, got.Summary},
	} {
		if !reflect.DeepEqual(c.want, c.got) {
			w, _ := json.Marshal(c.want)
			g, _ := json.Marshal(c.got)
			t.Errorf("%s differs from the uninterrupted run:\n got  %s\n want %s", c.name, g, w)
			equal = false
		}
	}
	if !bytes.Equal(want.Confusion, got.Confusion) || !bytes.Equal(want.PerClass, got.PerClass) {
		t.Error("test-split results (confusion_test.csv, per_class_test.csv) differ from the uninterrupted run")
		equal = false
	}
	return equal
}

// leftovers lists temporary files and directories left in a run directory and its checkpoints, and
// checkpoint directories that checkpoint.json no longer names.
func leftovers(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{dir, filepath.Join(dir, "checkpoints")} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
	}
	if ptr, err := train.ReadPointer(filepath.Join(dir, "checkpoints")); err == nil {
		entries, _ := os.ReadDir(filepath.Join(dir, "checkpoints"))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "ckpt-") && !slices.Contains(ptr.Checkpoints, e.Name()) {
				out = append(out, filepath.Join(dir, "checkpoints", e.Name())+" (not in checkpoint.json)")
			}
		}
	}
	sort.Strings(out)
	return out
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// copyTree copies the regular files and directories under src to dst.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

package sweep

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeConfigs creates dir/<variant>_<dataset>.yaml for every pair and returns the template.
func writeConfigs(t *testing.T, dir string, datasets, variants []string) string {
	t.Helper()
	for _, d := range datasets {
		for _, v := range variants {
			if err := os.WriteFile(filepath.Join(dir, v+"_"+d+".yaml"), []byte("model:\n  attention: "+v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return filepath.Join(dir, "{variant}_{dataset}.yaml")
}

func TestGridRuns(t *testing.T) {
	dir := t.TempDir()
	tmpl := writeConfigs(t, dir, []string{"cub", "cars"}, []string{"none", "csca"})
	single := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(single, []byte("data:\n  format: synthetic\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "runs")
	tests := []struct {
		name     string
		grid     Grid
		names    []string // Run.Name of every run, in order
		first    []string // Args(false) of the first run
		problems []string // substrings of the GridError, one per problem
	}{
		{
			name:  "template",
			grid:  Grid{Datasets: []string{"cub", "cars"}, Variants: []string{"none", "csca"}, Seeds: []int64{1, 2}, Config: tmpl, Out: out, Sets: []string{"train.epochs=3"}},
			names: []string{"cub/none/seed1", "cub/csca/seed1", "cars/none/seed1", "cars/csca/seed1", "cub/none/seed2", "cub/csca/seed2", "cars/none/seed2", "cars/csca/seed2"},
			first: []string{"-config", filepath.Join(dir, "none_cub.yaml"), "-set", "train.seed=1", "-set", "train.epochs=3", "-out", filepath.Join(out, "cub", "none", "seed1")},
		},
		{
			name:  "one config, variant by override, threads",
			grid:  Grid{Datasets: []string{"synthetic"}, Variants: []string{"sa"}, Seeds: []int64{7}, Config: single, Out: out, Threads: 2},
			names: []string{"synthetic/sa/seed7"},
			first: []string{"-config", single, "-set", "model.attention=sa", "-set", "train.seed=7", "-set", "runtime.intra_op_threads=2", "-set", "data.workers=2", "-out", filepath.Join(out, "synthetic", "sa", "seed7")},
		},
		{
			name:  "threads not over the user's",
			grid:  Grid{Datasets: []string{"synthetic"}, Variants: []string{"sa"}, Seeds: []int64{7}, Config: single, Out: out, Threads: 2, Sets: []string{"data.workers=5"}},
			names: []string{"synthetic/sa/seed7"},
			first: []string{"-config", single, "-set", "model.attention=sa", "-set", "train.seed=7", "-set", "runtime.intra_op_threads=2", "-set", "data.workers=5", "-out", filepath.Join(out, "synthetic", "sa", "seed7")},
		},
		{
			name: "every problem at once",
			grid: Grid{Datasets: []string{"cub", "cub", "a/b"}, Variants: nil, Seeds: []int64{1, 1}, Config: tmpl,
				Sets: []string{"train.seed=4", "nokey", "Model.Attention=ca"}},
			problems: []string{`datasets: "cub" given twice`, `datasets: "a/b": want a plain name`, "variants: none given",
				"seeds: 1 given twice", "out: no sweep directory given", `set "train.seed=4": train.seed is set by the sweep`,
				`set "nokey": want key=value`, `set "Model.Attention=ca": model.attention is set by the sweep`},
		},
		{
			name:     "missing configs and one config for several datasets",
			grid:     Grid{Datasets: []string{"cub", "dogs"}, Variants: []string{"none"}, Seeds: []int64{1}, Config: filepath.Join(dir, "{variant}.yaml"), Out: out},
			problems: []string{"has no {dataset} but 2 datasets", "none.yaml (cub/none): no such file"},
		},
		{
			name:     "missing config of one pair",
			grid:     Grid{Datasets: []string{"cub", "dogs"}, Variants: []string{"none"}, Seeds: []int64{1}, Config: tmpl, Out: out},
			problems: []string{"none_dogs.yaml (dogs/none): no such file"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runs, err := tc.grid.Runs()
			if tc.problems != nil {
				var ge *GridError
				if !errors.As(err, &ge) {
					t.Fatalf("err = %v, want a *GridError", err)
				}
				if len(ge.Problems) != len(tc.problems) {
					t.Errorf("%d problems, want %d: %q", len(ge.Problems), len(tc.problems), ge.Problems)
				}
				for _, p := range tc.problems {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("error %q lacks %q", err, p)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range runs {
				names = append(names, r.Name())
				if r.Dir != filepath.Join(tc.grid.Out, filepath.FromSlash(r.Name())) {
					t.Errorf("%s: dir %s", r.Name(), r.Dir)
				}
			}
			if !reflect.DeepEqual(names, tc.names) {
				t.Errorf("runs %q, want %q", names, tc.names)
			}
			if got := runs[0].Args(false); !reflect.DeepEqual(got, tc.first) {
				t.Errorf("args %q, want %q", got, tc.first)
			}
			if got := runs[0].Args(true); got[len(got)-1] != "-resume" {
				t.Errorf("resume args %q end without -resume", got)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	tests := []struct {
		name  string
		files []string // created below the run directory; a trailing / makes a directory
		want  State
	}{
		{"missing directory", nil, New},
		{"empty directory", []string{""}, New},
		{"log only", []string{"train.log"}, Restart},
		{"config and log", []string{"train.log", "config.yaml"}, Restart},
		{"empty checkpoints", []string{"checkpoints/"}, Restart},
		{"hidden temporary checkpoint only", []string{"checkpoints/.tmp-ckpt"}, Restart},
		{"checkpoint", []string{"checkpoints/ckpt-3.index"}, Resume},
		{"summary", []string{"checkpoints/ckpt-3.index", "summary.json"}, Done},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			for _, f := range tc.files {
				p := filepath.Join(dir, f)
				if f == "" || strings.HasSuffix(f, "/") {
					os.MkdirAll(p, 0o755)
					continue
				}
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Inspect(dir)
			if err != nil || got != tc.want {
				t.Errorf("Inspect = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// statuses maps run names to their statuses.
func statuses(out []Outcome) map[string]Status {
	m := map[string]Status{}
	for _, o := range out {
		m[o.Run.Name()] = o.Status
	}
	return m
}

// argsOf is the trainer invocations a fake run recorded, one per line.
func argsOf(t *testing.T, r Run) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Dir, "args.txt"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestExecute(t *testing.T) {
	tests := []struct {
		name     string
		modes    string
		parallel int
		failFast bool
		before   map[string]string // run name -> file to create first (relative to the run directory)
		want     map[string]Status
		resumed  []string // runs that must have been given -resume
		summary  string   // in Summarize's output
		err      string   // Summarize's error
	}{
		{
			name: "all finish", parallel: 2,
			want:    map[string]Status{"d/ca/seed1": Finished, "d/sa/seed1": Finished, "d/ca/seed2": Finished, "d/sa/seed2": Finished},
			summary: "4 finished, 0 skipped",
		},
		{
			name: "skip done, resume checkpointed", parallel: 1,
			before:  map[string]string{"d/ca/seed1": "summary.json", "d/sa/seed2": "checkpoints/ckpt-2.index"},
			want:    map[string]Status{"d/ca/seed1": Skipped, "d/sa/seed1": Finished, "d/ca/seed2": Finished, "d/sa/seed2": Finished},
			resumed: []string{"d/sa/seed2"},
			summary: "3 finished, 1 skipped",
		},
		{
			name: "restart without checkpoint, new in an empty directory", parallel: 2,
			before:  map[string]string{"d/ca/seed1": "config.yaml", "d/sa/seed1": "", "d/ca/seed2": "train.log"},
			want:    map[string]Status{"d/ca/seed1": Finished, "d/sa/seed1": Finished, "d/ca/seed2": Finished, "d/sa/seed2": Finished},
			summary: "4 finished, 0 skipped",
		},
		{
			name: "a failure does not stop the others", parallel: 2, modes: "sa/1=fail,ca/2=silent",
			want:    map[string]Status{"d/ca/seed1": Finished, "d/sa/seed1": Failed, "d/ca/seed2": Failed, "d/sa/seed2": Finished},
			summary: "train: boom: out of memory",
			err:     "2 of 4 runs failed",
		},
		{
			name: "fail fast", parallel: 1, failFast: true, modes: "ca/1=fail",
			want:    map[string]Status{"d/ca/seed1": Failed, "d/sa/seed1": NotStarted, "d/ca/seed2": NotStarted, "d/sa/seed2": NotStarted},
			summary: "1 failed, 0 interrupted, 3 not started",
			err:     "1 of 4 runs failed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			g := Grid{Datasets: []string{"d"}, Variants: []string{"ca", "sa"}, Seeds: []int64{1, 2},
				Config: writeConfigs(t, dir, []string{"d"}, []string{"ca", "sa"}), Out: filepath.Join(dir, "runs")}
			runs, err := g.Runs()
			if err != nil {
				t.Fatal(err)
			}
			for name, f := range tc.before {
				p := filepath.Join(g.Out, name, f)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if f == "" {
					continue
				}
				if err := os.WriteFile(p, []byte("{} from before\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := fakeRunner(t, tc.modes)
			r.Parallel, r.FailFast = tc.parallel, tc.failFast
			var progress bytes.Buffer
			r.Progress = &progress
			out, err := r.Execute(context.Background(), runs)
			if err != nil {
				t.Fatal(err)
			}
			if got := statuses(out); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("statuses %v, want %v\nprogress:\n%s", got, tc.want, progress.String())
			}
			for i, o := range out {
				if o.Run.Name() != runs[i].Name() {
					t.Errorf("outcome %d is %s, want %s", i, o.Run.Name(), runs[i].Name())
				}
				calls := argsOf(t, o.Run)
				switch o.Status {
				case Skipped, NotStarted:
					if len(calls) != 0 {
						t.Errorf("%s: %v but trainer called: %q", o.Run.Name(), o.Status, calls)
					}
					continue
				}
				if len(calls) != 1 {
					t.Fatalf("%s: %d trainer calls, want 1", o.Run.Name(), len(calls))
				}
				wantResume := false
				for _, n := range tc.resumed {
					wantResume = wantResume || n == o.Run.Name()
				}
				if want := strings.Join(o.Run.Args(wantResume), " "); calls[0] != want {
					t.Errorf("%s: trainer args %q, want %q", o.Run.Name(), calls[0], want)
				}
				log, err := os.ReadFile(o.Log)
				for _, want := range []string{"fake trainer: loading the configuration\n", "fake trainer: epoch 1\n"} {
					if err != nil || !strings.Contains(string(log), want) {
						t.Errorf("%s: log %s lacks the trainer's output %q (%v)", o.Run.Name(), o.Log, want, err)
					}
				}
				if f := tc.before[o.Run.Name()]; f == "train.log" && !strings.HasPrefix(string(log), "{} from before\n") {
					t.Errorf("%s: the earlier log was not kept:\n%s", o.Run.Name(), log)
				}
			}
			var sum bytes.Buffer
			err = Summarize(&sum, out)
			if !strings.Contains(sum.String(), tc.summary) {
				t.Errorf("summary lacks %q:\n%s", tc.summary, sum.String())
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("Summarize error %v, want %q", err, tc.err)
			}
			for _, o := range out {
				if o.Status == Failed && !strings.Contains(sum.String(), o.Log) {
					t.Errorf("summary does not name the log %s of failed %s", o.Log, o.Run.Name())
				}
			}
			// A second sweep skips what finished and trains only what did not.
			again, err := fakeRunner(t, "").Execute(context.Background(), runs)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range again {
				want := Finished
				if out[i].Status == Finished || out[i].Status == Skipped {
					want = Skipped
				}
				if o.Status != want {
					t.Errorf("second sweep: %s %v, want %v", o.Run.Name(), o.Status, want)
				}
			}
		})
	}
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s did not appear", path)
}

func TestExecuteInterrupt(t *testing.T) {
	tests := []struct {
		name        string
		mode        string
		grace       time.Duration
		interrupted bool   // the child saw SIGINT and exited by itself
		status      Status // of the interrupted run
	}{
		{"child checkpoints and exits", "hangonce", 10 * time.Second, true, Interrupted},
		{"child ignoring SIGINT is killed after the grace", "stubborn", 200 * time.Millisecond, false, Interrupted},
		{"child stopped in its last epoch finishes", "last", 10 * time.Second, true, Finished},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			g := Grid{Datasets: []string{"d"}, Variants: []string{"ca", "sa"}, Seeds: []int64{1},
				Config: writeConfigs(t, dir, []string{"d"}, []string{"ca", "sa"}), Out: filepath.Join(dir, "runs")}
			runs, err := g.Runs()
			if err != nil {
				t.Fatal(err)
			}
			r := fakeRunner(t, "ca/1="+tc.mode)
			r.Grace = tc.grace
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				waitFile(t, filepath.Join(runs[0].Dir, "ready"))
				cancel()
			}()
			t0 := time.Now()
			out, err := r.Execute(ctx, runs)
			if err != nil {
				t.Fatal(err)
			}
			if elapsed := time.Since(t0); elapsed > tc.grace+20*time.Second {
				t.Errorf("Execute took %v after cancellation", elapsed)
			}
			want := map[string]Status{"d/ca/seed1": tc.status, "d/sa/seed1": NotStarted}
			if got := statuses(out); !reflect.DeepEqual(got, want) {
				t.Fatalf("statuses %v, want %v", got, want)
			}
			_, err = os.Stat(filepath.Join(runs[0].Dir, "interrupted"))
			if got := err == nil; got != tc.interrupted {
				t.Errorf("child handled SIGINT: %v, want %v", got, tc.interrupted)
			}
			var sum bytes.Buffer
			err = Summarize(&sum, out)
			if err == nil || strings.Contains(sum.String(), "interrupted d/ca/seed1") != (tc.status == Interrupted) {
				t.Errorf("Summarize = %v:\n%s", err, sum.String())
			}
			if tc.mode != "hangonce" {
				return
			}
			// The next sweep resumes the interrupted run from its checkpoint.
			out, err = fakeRunner(t, "ca/1="+tc.mode).Execute(context.Background(), runs)
			if err != nil {
				t.Fatal(err)
			}
			if out[0].Found != Resume || out[0].Status != Finished || out[1].Status != Finished {
				t.Errorf("after resuming: %+v", out)
			}
			calls := argsOf(t, runs[0])
			if len(calls) != 2 || !strings.HasSuffix(calls[1], " -resume") {
				t.Errorf("trainer calls %q, want a second one with -resume", calls)
			}
		})
	}
}

func TestExecuteRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	g := Grid{Datasets: []string{"d"}, Variants: []string{"ca"}, Seeds: []int64{1},
		Config: writeConfigs(t, dir, []string{"d"}, []string{"ca"}), Out: filepath.Join(dir, "runs")}
	runs, err := g.Runs()
	if err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(runs[0].Dir, "notes.txt")
	os.MkdirAll(runs[0].Dir, 0o755)
	if err := os.WriteFile(notes, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := fakeRunner(t, "").Execute(context.Background(), runs)
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Found != Restart || out[0].Status != Failed || !strings.Contains(out[0].Err.Error(), "not deleting it") {
		t.Errorf("outcome %+v", out[0])
	}
	if _, err := os.Stat(notes); err != nil {
		t.Errorf("the directory's file is gone: %v", err)
	}
}

// TestGridResolvesConfigNames: a template that names configurations without a path resolves in
// configs/ as cmd/train's -config does, so 'my_{dataset}' finds configs/my_a.yaml.
func TestGridResolvesConfigNames(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "configs", "my_"+d+".yaml"), []byte("data:\n  format: folder\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	runs, err := Grid{Datasets: []string{"a", "b"}, Variants: []string{"none"}, Seeds: []int64{1}, Config: "my_{dataset}", Out: "runs"}.Runs()
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range []string{"a", "b"} {
		want := filepath.Join("configs", "my_"+d+".yaml")
		if args := runs[i].Args(false); len(args) < 2 || args[1] != want {
			t.Errorf("run %s: args %v, want -config %s", runs[i].Name(), args, want)
		}
	}
	_, err = Grid{Datasets: []string{"c"}, Variants: []string{"none"}, Seeds: []int64{1}, Config: "my_{dataset}", Out: "runs"}.Runs()
	if err == nil || !strings.Contains(err.Error(), "my_c (c/none): no such file") {
		t.Errorf("a missing name: %v", err)
	}
}

package reliability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finegrain/finegrain/train"
)

// finishedRun copies the 2-epoch reference run (config.yaml, metrics, events, summary, two
// checkpoints) to a new directory and returns it.
func finishedRun(t *testing.T) string {
	t.Helper()
	ref := reference(t, 2)
	dst := filepath.Join(t.TempDir(), "run")
	copyTree(t, ref.dir, dst)
	return dst
}

// treeDigest lists every path under dir with its size and contents' length, to show that a command
// left a directory as it was.
func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %d %x", len(b), b[:min(len(b), 32)])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// victim makes a directory outside every run with a file that must survive, and returns the directory.
func victim(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "victim", "important")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.index"), []byte("not yours"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func editPointer(t *testing.T, run string, edit func(p map[string]any)) {
	t.Helper()
	path := filepath.Join(run, "checkpoints", "checkpoint.json")
	var p map[string]any
	if err := json.Unmarshal(mustRead(t, path), &p); err != nil {
		t.Fatal(err)
	}
	edit(p)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunStateCannotLeadOutside: names read from a run's own checkpoint.json that lead outside the run
// (relative climbs, absolute paths, names that are not checkpoints, checkpoint directories replaced by
// symbolic links to another run) are refused, naming the file and the entry, by every command that
// reads them; pruning (checkpoint.keep 1) deletes nothing outside the run.
func TestRunStateCannotLeadOutside(t *testing.T) {
	trainBin, evalBin, exportBin := command(t, "train"), command(t, "eval"), command(t, "export")
	other := finishedRun(t) // another run, whose checkpoints must survive too
	otherBefore := treeDigest(t, other)
	cases := []struct {
		name  string
		setup func(t *testing.T, run, outside string)
		want  string // in the error
		// resumeOnly: the entries stay inside the run, and eval and export may use the checkpoint the
		// run's summary.json selected, which is intact; only -resume needs the missing latest.
		resumeOnly bool
	}{
		{"latest climbs out", func(t *testing.T, run, outside string) {
			rel, _ := filepath.Rel(filepath.Join(run, "checkpoints"), outside)
			editPointer(t, run, func(p map[string]any) {
				p["latest"] = rel
				p["checkpoints"] = append(p["checkpoints"].([]any), rel)
			})
		}, "entry checkpoints[2]", false},
		{"listed entry climbs out", func(t *testing.T, run, outside string) {
			editPointer(t, run, func(p map[string]any) {
				p["checkpoints"] = append([]any{"../../victim/important"}, p["checkpoints"].([]any)...)
			})
		}, "entry checkpoints[0]", false},
		{"absolute best", func(t *testing.T, run, outside string) {
			editPointer(t, run, func(p map[string]any) { p["best"] = outside })
		}, "entry best", false},
		{"checkpoint name with a climb inside", func(t *testing.T, run, outside string) {
			editPointer(t, run, func(p map[string]any) {
				bad := fmt.Sprintf("ckpt-%09d/../../..", 2*tinyStepsPerEpoch)
				p["latest"] = bad
				p["checkpoints"] = []any{bad}
			})
		}, "entry checkpoints[0]", false},
		{"checkpoints are symlinks to another run's", func(t *testing.T, run, outside string) {
			for _, step := range []int{tinyStepsPerEpoch, 2 * tinyStepsPerEpoch} {
				name := fmt.Sprintf("ckpt-%09d", step)
				d := filepath.Join(run, "checkpoints", name)
				if err := os.RemoveAll(d); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(other, "checkpoints", name), d); err != nil {
					t.Fatal(err)
				}
			}
		}, "not a directory", false},
		{"latest and best name a checkpoint that is not there", func(t *testing.T, run, outside string) {
			editPointer(t, run, func(p map[string]any) {
				p["latest"], p["best"] = "ckpt-000000999", "ckpt-000000999"
				p["checkpoints"] = append(p["checkpoints"].([]any), "ckpt-000000999")
			})
		}, "missing", true},
		{"latest not listed", func(t *testing.T, run, outside string) {
			editPointer(t, run, func(p map[string]any) { p["latest"] = "ckpt-000000001" })
		}, "entry latest", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := finishedRun(t)
			outside := victim(t)
			c.setup(t, run, outside)
			before := treeDigest(t, filepath.Dir(outside))
			runs := [][]string{
				{trainBin, "-resume", "-out", run, "-set", "checkpoint.keep=1", "-set", "train.epochs=3"},
				{evalBin, "-model", run, "-out", filepath.Join(t.TempDir(), "eval")},
				{exportBin, "-checkpoint", run, "-out", filepath.Join(t.TempDir(), "export")},
				{exportBin, "-checkpoint", run, "-best", "-out", filepath.Join(t.TempDir(), "export")},
			}
			if c.resumeOnly {
				runs = runs[:1]
			}
			for _, args := range runs {
				code, out := runCmd(t, args[0], args[1:], childEnv())
				noPanic(t, out)
				name := filepath.Base(args[0])
				if code == 0 {
					t.Errorf("%s: exit 0 on a checkpoint.json that leads outside the run\n%s", name, tail(out, 6))
					continue
				}
				if !strings.Contains(out, c.want) {
					t.Errorf("%s: error does not say %q:\n%s", name, c.want, tail(out, 6))
				}
			}
			if got := treeDigest(t, filepath.Dir(outside)); got != before {
				t.Errorf("the directory outside the run changed:\nbefore:\n%s\nafter:\n%s", before, got)
			}
			if got := treeDigest(t, other); got != otherBefore {
				t.Errorf("another run changed:\nbefore:\n%s\nafter:\n%s", otherBefore, got)
			}
		})
	}
}

// TestForceDeletesOnlyARun: -force starts over in a directory that holds only what a run writes, and
// refuses, listing them, directories holding anything else, whatever else they hold (a run's files
// included), leaving them untouched.
func TestForceDeletesOnlyARun(t *testing.T) {
	bin := command(t, "train")
	cfg := writeConfig(t, t.TempDir(), "tiny.yaml", tinyConfig(dataset(t), 1))
	put := func(t *testing.T, dir, rel, text string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name    string
		setup   func(t *testing.T) string
		foreign []string // what the refusal must list; nil: -force must go ahead
	}{
		{"a run with notes beside it", func(t *testing.T) string {
			run := finishedRun(t)
			put(t, run, "notes/todo.txt", "keep")
			return run
		}, []string{"notes/"}},
		{"config.yaml among source files", func(t *testing.T) string {
			dir := t.TempDir()
			put(t, dir, "config.yaml", "model: {}\n")
			put(t, dir, "src/main.go", "package main\n")
			put(t, dir, "README", "mine\n")
			return dir
		}, []string{"README", "src/"}},
		{"metrics.jsonl and a symlink", func(t *testing.T) string {
			dir := t.TempDir()
			put(t, dir, "metrics.jsonl", "{}\n")
			if err := os.Symlink(victim(t), filepath.Join(dir, "checkpoints")); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"checkpoints"}},
		{"a file of the user's inside checkpoints", func(t *testing.T) string {
			run := finishedRun(t)
			put(t, run, "checkpoints/my-best-model.h5", "precious")
			return run
		}, []string{"checkpoints/my-best-model.h5"}},
		{"a directory inside a checkpoint", func(t *testing.T) string {
			run := finishedRun(t)
			put(t, run, fmt.Sprintf("checkpoints/ckpt-%09d/extra/x", tinyStepsPerEpoch), "x")
			return run
		}, []string{fmt.Sprintf("checkpoints/ckpt-%09d/", tinyStepsPerEpoch)}},
		{"a plot in events", func(t *testing.T) string {
			run := finishedRun(t)
			put(t, run, "events/plot.png", "png")
			return run
		}, []string{"events/plot.png"}},
		{"only what a run writes", func(t *testing.T) string { return finishedRun(t) }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := c.setup(t)
			before := treeDigest(t, dir)
			args := []string{"-config", cfg, "-out", dir, "-force"}
			if c.foreign == nil {
				code, out := runCmd(t, bin, args, childEnv())
				noPanic(t, out)
				if code != 0 {
					t.Fatalf("-force on a run directory: exit %d\n%s", code, tail(out, 8))
				}
				if _, err := os.Stat(filepath.Join(dir, "summary.json")); err != nil {
					t.Errorf("-force did not train a new run: %v", err)
				}
				return
			}
			code, out := runCmd(t, bin, args, childEnv())
			noPanic(t, out)
			if code == 0 {
				t.Fatalf("-force went ahead in a directory holding files a run does not write\n%s", tail(out, 8))
			}
			for _, f := range c.foreign {
				if !strings.Contains(out, f) {
					t.Errorf("the refusal does not list %s:\n%s", f, tail(out, 10))
				}
			}
			if got := treeDigest(t, dir); got != before {
				t.Errorf("a refused -force changed the directory:\nbefore:\n%s\nafter:\n%s", before, got)
			}
		})
	}
}

// TestOneProcessPerRunDir: while a run trains, every other command that would write its directory
// (a second run, -resume, -force, -repair) is refused, naming the holder's pid; after the holder is
// killed with SIGKILL, its lock is recognised as stale and the run resumes to the end.
func TestOneProcessPerRunDir(t *testing.T) {
	bin := command(t, "train")
	cfg := writeConfig(t, t.TempDir(), "tiny.yaml", tinyConfig(dataset(t), 3))
	dir := filepath.Join(t.TempDir(), "run")
	p := start(t, bin, []string{"-config", cfg, "-out", dir}, filepath.Join(dir, "checkpoints"), childEnv())
	defer p.kill()
	// Wait for the first checkpoint, so that the run can be resumed after the kill, then hold the
	// holder still while the others try.
	ready := false
	for ev := range p.events {
		if ev.entry == fmt.Sprintf("ckpt-%09d", tinyStepsPerEpoch) {
			ready = true
			break
		}
	}
	if !ready {
		t.Fatalf("the run ended before its first checkpoint:\n%s", p.output())
	}
	time.Sleep(200 * time.Millisecond) // let checkpoint.json follow the directory's rename
	if err := p.freeze(); err != nil {
		t.Fatal(err)
	}
	pid := fmt.Sprint(p.cmd.Process.Pid)
	for _, args := range [][]string{
		{"-config", cfg, "-out", dir},
		{"-resume", "-out", dir},
		{"-config", cfg, "-out", dir, "-force"},
		{"-repair", "-out", dir},
	} {
		code, out := runCmd(t, bin, args, childEnv())
		noPanic(t, out)
		if code == 0 || !strings.Contains(out, "locked by process "+pid) {
			t.Errorf("train %s while process %s trains the run: exit %d, want a refusal naming the pid:\n%s", strings.Join(args, " "), pid, code, tail(out, 6))
		}
	}
	p.kill()
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGCONT)
	p.wait()
	if _, err := os.Stat(filepath.Join(dir, ".lock")); err != nil {
		t.Fatalf("a killed run leaves its lock file (nothing removes it): %v", err)
	}
	code, out := runCmd(t, bin, []string{"-resume", "-out", dir}, childEnv())
	noPanic(t, out)
	if code != 0 {
		t.Fatalf("-resume after the holder was killed: exit %d\n%s", code, tail(out, 8))
	}
	if !strings.Contains(out, "stale lock") {
		t.Errorf("the stale lock was taken over without a word:\n%s", tail(out, 20))
	}
	if _, err := os.Stat(filepath.Join(dir, ".lock")); !os.IsNotExist(err) {
		t.Errorf("the lock file outlives a finished run: %v", err)
	}
}

// TestDamagedRunState: hand-edited or damaged state.json and checkpoint.json give an error naming the
// file and the field, never a panic; a damaged checkpoint.json names the newest intact checkpoint, and
// -repair rebuilds it so that the run resumes.
func TestDamagedRunState(t *testing.T) {
	bin := command(t, "train")
	last := fmt.Sprintf("ckpt-%09d", 2*tinyStepsPerEpoch)
	editState := func(field string, value any) func(t *testing.T, run string) {
		return func(t *testing.T, run string) {
			path := filepath.Join(run, "checkpoints", last, "state.json")
			var st map[string]any
			if err := json.Unmarshal(mustRead(t, path), &st); err != nil {
				t.Fatal(err)
			}
			if value == nil {
				delete(st, field)
			} else {
				st[field] = value
			}
			b, _ := json.Marshal(st)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeFile := func(rel, text string) func(t *testing.T, run string) {
		return func(t *testing.T, run string) {
			if err := os.WriteFile(filepath.Join(run, rel), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, run string)
		want   []string
	}{
		{"negative step", editState("step", -5), []string{"state.json", "field step"}},
		{"step as text", editState("step", "fourteen"), []string{"state.json", "step"}},
		{"epochs without history", editState("epoch", 9), []string{"state.json", "field history"}},
		{"history dropped", editState("history", nil), []string{"state.json", "field history"}},
		{"applied beyond step", editState("applied", 1e6), []string{"state.json", "field applied"}},
		{"best epoch in the future", editState("best_epoch", 7), []string{"state.json", "field best_epoch"}},
		{"loss scale as NaN text", editState("loss_scale", "NaN"), []string{"state.json", "loss_scale"}},
		{"unknown architecture", editState("net", map[string]any{"attention": "xyz", "depth": 18}), []string{"state.json", "field net"}},
		{"state truncated", writeFile(filepath.Join("checkpoints", last, "state.json"), `{"step": 1`), []string{"state.json"}},
		{"state is a directory", func(t *testing.T, run string) {
			p := filepath.Join(run, "checkpoints", last, "state.json")
			os.Remove(p)
			os.Mkdir(p, 0o755)
		}, []string{"state.json", "not a regular file"}},
		{"pointer truncated", writeFile(filepath.Join("checkpoints", "checkpoint.json"), `{"latest": "ckpt-0`), []string{"checkpoint.json", "newest intact checkpoint", "-repair"}},
		{"pointer empty", writeFile(filepath.Join("checkpoints", "checkpoint.json"), ``), []string{"checkpoint.json", "newest intact checkpoint"}},
		{"pointer of the wrong shape", writeFile(filepath.Join("checkpoints", "checkpoint.json"), `{"latest": 14, "checkpoints": {}}`), []string{"checkpoint.json", "newest intact checkpoint"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := finishedRun(t)
			c.damage(t, run)
			code, out := runCmd(t, bin, []string{"-resume", "-out", run, "-set", "train.epochs=3"}, childEnv())
			noPanic(t, out)
			if code == 0 {
				t.Fatalf("-resume on a damaged run: exit 0\n%s", tail(out, 6))
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("error does not say %q:\n%s", w, tail(out, 6))
				}
			}
		})
	}
	t.Run("repair then resume", func(t *testing.T) {
		run := finishedRun(t)
		ptr := filepath.Join(run, "checkpoints", "checkpoint.json")
		if err := os.WriteFile(ptr, []byte("{garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out := runCmd(t, bin, []string{"-repair", "-out", run}, childEnv())
		noPanic(t, out)
		if code != 0 {
			t.Fatalf("-repair: exit %d\n%s", code, out)
		}
		p, err := train.ReadPointer(filepath.Join(run, "checkpoints"))
		if err != nil || p.Latest != last {
			t.Fatalf("after -repair: pointer %+v, %v; want latest %s", p, err, last)
		}
		kept, _ := filepath.Glob(ptr + ".damaged-*")
		if len(kept) != 1 || string(mustRead(t, kept[0])) != "{garbage" {
			t.Errorf("the damaged checkpoint.json was not kept: %v", kept)
		}
		code, out = runCmd(t, bin, []string{"-resume", "-out", run, "-set", "train.epochs=3"}, childEnv())
		noPanic(t, out)
		if code != 0 {
			t.Fatalf("-resume after -repair: exit %d\n%s", code, tail(out, 8))
		}
	})
}

// TestArchitectureContradictions: a resume, an evaluation or an export whose configuration, overrides
// or class count contradict what the checkpoint was trained as is refused before anything is built,
// naming the setting and both values; so are a different seed and fewer epochs than the run completed.
func TestArchitectureContradictions(t *testing.T) {
	trainBin, evalBin, exportBin := command(t, "train"), command(t, "eval"), command(t, "export")
	run := finishedRun(t)
	before := treeDigest(t, run)
	labels := filepath.Join(t.TempDir(), "labels.txt")
	if err := os.WriteFile(labels, []byte("a\nb\nc\nd\ne\nf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"resume with the plain gate form", []string{trainBin, "-resume", "-out", run, "-set", "train.epochs=3", "-set", "model.gate_form=plain"}, []string{"model.gate_form: residual vs plain"}},
		{"resume at another depth", []string{trainBin, "-resume", "-out", run, "-set", "train.epochs=3", "-set", "model.depth=34"}, []string{"model.depth: 18 vs 34"}},
		{"resume as another variant", []string{trainBin, "-resume", "-out", run, "-set", "train.epochs=3", "-set", "model.attention=sa"}, []string{"model.attention: csca vs sa"}},
		{"resume with gates in fewer stages", []string{trainBin, "-resume", "-out", run, "-set", "train.epochs=3", "-set", "model.attention_stages=[3,4]"}, []string{"model.attention_stages"}},
		{"resume with the environment's width", []string{trainBin, "-resume", "-out", run, "-set", "train.epochs=3"}, []string{"model.width_multiplier: 0.25 vs 0.5"}},
		{"resume with another seed", []string{trainBin, "-resume", "-out", run, "-set", "train.epochs=3", "-set", "train.seed=8"}, []string{"train.seed 8", "seed 7"}},
		{"resume shortening the run", []string{trainBin, "-resume", "-out", run, "-set", "train.epochs=1"}, []string{"train.epochs 1", "2 epochs"}},
		{"export with another gate form", []string{exportBin, "-checkpoint", run, "-set", "model.gate_form=plain", "-out", filepath.Join(t.TempDir(), "x")}, []string{"model.gate_form: residual vs plain"}},
		{"export with six labels", []string{exportBin, "-checkpoint", run, "-labels", labels, "-out", filepath.Join(t.TempDir(), "x")}, []string{"6"}},
		{"eval as another variant", []string{evalBin, "-model", run, "-set", "model.attention=ca", "-out", filepath.Join(t.TempDir(), "e")}, []string{"model.attention: csca vs ca"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := childEnv()
			if strings.Contains(c.name, "environment") {
				env = append(env, "FINEGRAIN_MODEL_WIDTH_MULTIPLIER=0.5")
			}
			code, out := runCmd(t, c.args[0], c.args[1:], env)
			noPanic(t, out)
			if code == 0 {
				t.Fatalf("exit 0\n%s", tail(out, 6))
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("error does not say %q:\n%s", w, tail(out, 8))
				}
			}
		})
	}
	if got := treeDigest(t, run); got != before {
		t.Errorf("refused commands changed the run:\nbefore:\n%s\nafter:\n%s", before, got)
	}
}

package train

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/internal/dirlock"
	"github.com/finegrain/finegrain/nets"
)

// fakeCheckpoint writes a checkpoint directory a Checkpointer could have written: the bundle files
// (contents do not matter here) and a consistent state.json.
func fakeCheckpoint(t *testing.T, cdir string, step int64, epoch int) string {
	t.Helper()
	name := checkpointName(step)
	d := filepath.Join(cdir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	st := &State{Step: step, Applied: step, Epoch: epoch, BestVal: 0.5, BestEpoch: 1}
	for e := 1; e <= epoch; e++ {
		st.History = append(st.History, EpochMetrics{Epoch: e, Step: int64(e) * step / int64(max(epoch, 1))})
	}
	text, _ := json.Marshal(st)
	for n, data := range map[string][]byte{"model.index": {0}, "model.data-00000-of-00001": {0}, stateFile: text} {
		if err := os.WriteFile(filepath.Join(d, n), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

func writePointer(t *testing.T, cdir string, p any) {
	t.Helper()
	text, _ := json.Marshal(p)
	if err := os.WriteFile(filepath.Join(cdir, pointerFile), text, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadPointerRefusesEntriesOutsideTheRun(t *testing.T) {
	ok := []string{"ckpt-000000007", "ckpt-000000014"}
	cases := []struct {
		name  string
		ptr   Pointer
		entry string // named in the error; "" means valid
	}{
		{"valid", Pointer{Latest: ok[1], Best: ok[0], Checkpoints: ok}, ""},
		{"latest climbs", Pointer{Latest: "../../victim/important", Checkpoints: append(slices.Clone(ok), "../../victim/important")}, "checkpoints[2]"},
		{"absolute latest", Pointer{Latest: "/etc", Checkpoints: ok}, "latest"},
		{"best climbs", Pointer{Latest: ok[1], Best: "../other/checkpoints/ckpt-000000007", Checkpoints: ok}, "best"},
		{"dot-dot", Pointer{Latest: "..", Checkpoints: []string{".."}}, "checkpoints[0]"},
		{"name then climb", Pointer{Latest: "ckpt-000000007/../..", Checkpoints: []string{"ckpt-000000007/../.."}}, "checkpoints[0]"},
		{"empty latest", Pointer{Checkpoints: ok}, "latest"},
		{"latest not listed", Pointer{Latest: "ckpt-000000021", Checkpoints: ok}, "latest"},
		{"best not listed", Pointer{Latest: ok[1], Best: "ckpt-000000021", Checkpoints: ok}, "best"},
		{"listed twice", Pointer{Latest: ok[1], Checkpoints: []string{ok[1], ok[1]}}, "checkpoints[1]"},
		{"not a checkpoint name", Pointer{Latest: "model", Checkpoints: []string{"model"}}, "checkpoints[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cdir := t.TempDir()
			writePointer(t, cdir, c.ptr)
			_, err := ReadPointer(cdir)
			if c.entry == "" {
				if err != nil {
					t.Fatalf("valid pointer refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "entry "+c.entry) || !strings.Contains(err.Error(), pointerFile) {
				t.Fatalf("error %v, want one naming %s and entry %s", err, pointerFile, c.entry)
			}
		})
	}
}

func TestStateCheck(t *testing.T) {
	good := func() *State {
		return &State{Step: 14, Applied: 14, Epoch: 2, BestVal: 0.5, BestEpoch: 1,
			History: []EpochMetrics{{Epoch: 1, Step: 7}, {Epoch: 2, Step: 14}}}
	}
	cases := []struct {
		name  string
		edit  func(*State)
		field string // "" means valid
	}{
		{"valid", func(*State) {}, ""},
		{"valid before any validation", func(s *State) { s.BestVal, s.BestEpoch = -1, 0 }, ""},
		{"negative step", func(s *State) { s.Step = -1 }, "step"},
		{"negative step in epoch", func(s *State) { s.StepInEpoch = -3 }, "step_in_epoch"},
		{"applied beyond step", func(s *State) { s.Applied = 15 }, "applied"},
		{"epoch without history", func(s *State) { s.Epoch = 3 }, "history"},
		{"history out of order", func(s *State) { s.History[0].Epoch = 2 }, "history[0].epoch"},
		{"history step beyond", func(s *State) { s.History[1].Step = 99 }, "history[1].step"},
		{"best epoch ahead", func(s *State) { s.BestEpoch = 3 }, "best_epoch"},
		{"best accuracy above 1", func(s *State) { s.BestVal = 3 }, "best_val"},
		{"negative loss scale", func(s *State) { s.LossScale = -2 }, "loss_scale"},
		{"partial without a step", func(s *State) { s.Partial.Images = 4 }, "partial.images"},
		{"more correct than images", func(s *State) { s.StepInEpoch, s.Partial.Images, s.Partial.Correct = 1, 4, 5 }, "partial.correct"},
		{"unknown variant", func(s *State) { n := nets.DefaultConfig(); n.Attention = "xyz"; s.Net = &n }, "net"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := good()
			c.edit(st)
			err := st.check()
			if c.field == "" {
				if err != nil {
					t.Fatalf("valid state refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "field "+c.field) {
				t.Fatalf("error %v, want one naming field %s", err, c.field)
			}
		})
	}
}

func TestDamagedPointerOffersTheNewestIntactCheckpoint(t *testing.T) {
	run := t.TempDir()
	cdir := filepath.Join(run, checkpointsDir)
	first := fakeCheckpoint(t, cdir, 7, 1)
	newest := fakeCheckpoint(t, cdir, 14, 2)
	broken := fakeCheckpoint(t, cdir, 21, 3)
	os.WriteFile(filepath.Join(cdir, broken, stateFile), []byte("{"), 0o644)
	if err := os.WriteFile(filepath.Join(cdir, pointerFile), []byte(`{"latest": "ckpt-0000`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := ResolveCheckpoint(run, false)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(cdir, newest)) || !strings.Contains(err.Error(), "-repair") {
		t.Fatalf("ResolveCheckpoint on a damaged pointer: %v; want the newest intact checkpoint %s and the repair command", err, newest)
	}
	p, err := RepairPointer(run)
	if err != nil {
		t.Fatal(err)
	}
	if p.Latest != newest || p.Best != first || !slices.Equal(p.Checkpoints, []string{first, newest}) {
		t.Errorf("repaired pointer %+v, want latest %s, best %s", p, newest, first)
	}
	if _, err := ReadPointer(cdir); err != nil {
		t.Errorf("the repaired pointer does not read: %v", err)
	}
	if kept, _ := filepath.Glob(filepath.Join(cdir, pointerFile+".damaged-*")); len(kept) != 1 {
		t.Errorf("damaged pointer kept as %v, want one copy", kept)
	}
	if _, err := RepairPointer(run); err == nil {
		t.Error("repairing an intact pointer should be refused")
	}
	if foreign, err := foreignEntries(run); err != nil || len(foreign) != 0 {
		t.Errorf("a repaired run holds foreign entries %v (%v)", foreign, err)
	}
}

func TestForeignEntries(t *testing.T) {
	run := t.TempDir()
	cdir := filepath.Join(run, checkpointsDir)
	fakeCheckpoint(t, cdir, 7, 1)
	writePointer(t, cdir, Pointer{Latest: "ckpt-000000007", Checkpoints: []string{"ckpt-000000007"}})
	for _, n := range []string{"config.yaml", "metrics.jsonl", "metrics.csv", "summary.json", ".tmp-summary.json-123", "events/events.out.tfevents.1700000000.host.42"} {
		os.MkdirAll(filepath.Dir(filepath.Join(run, n)), 0o755)
		if err := os.WriteFile(filepath.Join(run, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if f, err := foreignEntries(run); err != nil || len(f) != 0 {
		t.Fatalf("a run's own files reported foreign: %v (%v)", f, err)
	}
	os.WriteFile(filepath.Join(run, "notes.txt"), nil, 0o644)
	os.Mkdir(filepath.Join(run, "export"), 0o755)
	os.WriteFile(filepath.Join(cdir, "ckpt-000000007", "README"), nil, 0o644)
	os.Symlink("/", filepath.Join(run, "metrics.csv.link"))
	os.WriteFile(filepath.Join(run, "events", "plot.png"), nil, 0o644)
	f, err := foreignEntries(run)
	want := []string{"checkpoints/ckpt-000000007/", "events/plot.png", "export/", "metrics.csv.link", "notes.txt"}
	if err != nil || !slices.Equal(f, want) {
		t.Fatalf("foreign entries %v (%v), want %v", f, err, want)
	}
	before, _ := os.ReadDir(run)
	if err := clearRunDir(run); err == nil {
		t.Fatal("clearRunDir went ahead with foreign entries")
	}
	if after, _ := os.ReadDir(run); len(after) != len(before) {
		t.Errorf("a refused clear removed entries: %d before, %d after", len(before), len(after))
	}
}

func TestRunDirLock(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	l, err := prepareRunDir(run, false, false, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = prepareRunDir(run, false, true, os.Stderr)
	var held *dirlock.HeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Fatalf("second prepareRunDir: %v, want the holder's pid %d", err, os.Getpid())
	}
	l.Release()
	l, err = prepareRunDir(run, false, false, os.Stderr)
	if err != nil {
		t.Fatalf("an empty run directory with a released lock: %v", err)
	}
	l.Release()
	if entries, _ := os.ReadDir(run); len(entries) != 0 {
		t.Errorf("the lock file outlives its release: %v", entries)
	}
}

func TestRunCheckpoint(t *testing.T) {
	run := t.TempDir()
	cdir := filepath.Join(run, checkpointsDir)
	name := fakeCheckpoint(t, cdir, 7, 1)
	if d, err := RunCheckpoint(run, name); err != nil || d != filepath.Join(cdir, name) {
		t.Errorf("RunCheckpoint(%s) = %s, %v", name, d, err)
	}
	if _, err := RunCheckpoint(run, "ckpt-000000099"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing checkpoint: %v, want os.ErrNotExist", err)
	}
	other := filepath.Join(t.TempDir(), "ckpt-000000014")
	os.MkdirAll(other, 0o755)
	os.Symlink(other, filepath.Join(cdir, "ckpt-000000014"))
	for _, bad := range []string{"..", "../x", "ckpt-000000014", "/tmp"} {
		if _, err := RunCheckpoint(run, bad); err == nil || errors.Is(err, os.ErrNotExist) {
			t.Errorf("RunCheckpoint(%q): %v, want a refusal", bad, err)
		}
	}
}

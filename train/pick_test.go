package train

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPickCheckpoint: eval and export take the same checkpoint of a run directory: the one the run
// selected and evaluated unless -best or -latest says otherwise.
func TestPickCheckpoint(t *testing.T) {
	const seven, fourteen = "ckpt-000000007", "ckpt-000000014"
	// run makes a run directory with checkpoints at steps 7 and 14 (epochs 1 and 2), best names
	// checkpoint.json's best ("" for none), summary is summary.json's content ("" for none).
	run := func(t *testing.T, best, summary string, prune ...string) string {
		dir := t.TempDir()
		cdir := filepath.Join(dir, checkpointsDir)
		fakeCheckpoint(t, cdir, 7, 1)
		fakeCheckpoint(t, cdir, 14, 2)
		writePointer(t, cdir, Pointer{Latest: fourteen, Best: best, Checkpoints: []string{seven, fourteen}})
		if summary != "" {
			if err := os.WriteFile(filepath.Join(dir, "summary.json"), []byte(summary), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range prune {
			if err := os.RemoveAll(filepath.Join(cdir, p)); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name          string
		best, summary string
		prune         []string
		sub           string // appended to the run directory
		pick          Pick
		want          string // the checkpoint taken; "" = an error containing why
		why           string
	}{
		{name: "finished best_val run: selected", best: seven, summary: `{"checkpoint":"runs/x/checkpoints/` + seven + `"}`, want: seven, why: "selected and evaluated (summary.json)"},
		{name: "finished best_val run: best", best: seven, summary: `{"checkpoint":"` + seven + `"}`, pick: PickBest, want: seven, why: "(-best)"},
		{name: "finished best_val run: latest", best: seven, summary: `{"checkpoint":"` + seven + `"}`, pick: PickLatest, want: fourteen, why: "(-latest)"},
		{name: "summary path absolute", best: seven, summary: `{"checkpoint":"/elsewhere/run/checkpoints/` + seven + `"}`, want: seven},
		{name: "finished last run: selected", summary: `{"checkpoint":"` + fourteen + `"}`, want: fourteen},
		{name: "finished last run: best refused", summary: `{"checkpoint":"` + fourteen + `"}`, pick: PickBest, why: "records no best checkpoint"},
		{name: "unfinished with best", best: seven, want: seven, why: "has not finished (no summary.json), its best by validation top-1 so far"},
		{name: "unfinished without best", want: fourteen, why: "has not finished (no summary.json), its latest"},
		{name: "summary's checkpoint pruned", best: fourteen, summary: `{"checkpoint":"` + seven + `"}`, prune: []string{seven}, want: fourteen, why: "pruned since"},
		{name: "summary leads outside", summary: `{"checkpoint":".."}`, why: "not a checkpoint of this run"},
		{name: "summary damaged", summary: `{"checkp`, why: "summary.json"},
		{name: "checkpoints directory", best: seven, summary: `{"checkpoint":"` + seven + `"}`, sub: checkpointsDir, want: seven},
		{name: "a checkpoint directory names itself", best: seven, summary: `{"checkpoint":"` + seven + `"}`, sub: filepath.Join(checkpointsDir, fourteen), pick: PickBest, want: fourteen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := run(t, tc.best, tc.summary, tc.prune...)
			ckdir, prefix, why, err := PickCheckpoint(filepath.Join(dir, tc.sub), tc.pick)
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), tc.why) {
					t.Fatalf("took %s (%s), want an error containing %q; got %v", ckdir, why, tc.why, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(ckdir) != tc.want || prefix != filepath.Join(ckdir, modelPrefix) {
				t.Errorf("took %s (prefix %s), want %s", ckdir, prefix, tc.want)
			}
			if !strings.Contains(why, tc.why) {
				t.Errorf("why %q, want it to contain %q", why, tc.why)
			}
		})
	}
}

func TestPickFlags(t *testing.T) {
	tests := []struct {
		args []string
		want Pick
		err  bool
	}{
		{nil, PickSelected, false},
		{[]string{"-best"}, PickBest, false},
		{[]string{"-latest"}, PickLatest, false},
		{[]string{"-best=false"}, PickSelected, false},
		{[]string{"-best", "-latest"}, 0, true},
	}
	for _, tc := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var f PickFlags
		f.Register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		got, err := f.Pick()
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: %v, %v; want %v (error %v)", tc.args, got, err, tc.want, tc.err)
		}
	}
}

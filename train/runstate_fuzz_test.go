package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRunState feeds arbitrary checkpoint.json and state.json contents to everything that reads a run's
// own state (ReadPointer, ResolveCheckpoint, ReadState, IntactCheckpoints, RepairPointer): none may
// panic, and whatever is accepted names only checkpoints inside the run.
func FuzzRunState(f *testing.F) {
	f.Add([]byte(`{"latest":"ckpt-000000014","best":"ckpt-000000007","checkpoints":["ckpt-000000007","ckpt-000000014"]}`),
		[]byte(`{"step":14,"epoch":2,"applied":14,"seed":7,"best_val":0.5,"best_epoch":1,"history":[{"epoch":1,"step":7},{"epoch":2,"step":14}]}`))
	f.Add([]byte(`{"latest":"../../victim","checkpoints":["../../victim"]}`), []byte(`{"step":-1}`))
	f.Add([]byte(`{"latest":"/etc","checkpoints":{}}`), []byte(`{"history":null,"epoch":3}`))
	f.Add([]byte(`{"latest":"ckpt-0000`), []byte(`{"net":{"attention":"csca","depth":18,"num_classes":3}}`))
	f.Add([]byte(``), []byte(`{"loss_scale":1e309,"partial":{"images":-4}}`))
	f.Fuzz(func(t *testing.T, pointer, state []byte) {
		run := t.TempDir()
		cdir := filepath.Join(run, checkpointsDir)
		ck := filepath.Join(cdir, "ckpt-000000014")
		if err := os.MkdirAll(ck, 0o755); err != nil {
			t.Fatal(err)
		}
		for n, data := range map[string][]byte{pointerFile: pointer} {
			if err := os.WriteFile(filepath.Join(cdir, n), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for n, data := range map[string][]byte{stateFile: state, "model.index": {0}} {
			if err := os.WriteFile(filepath.Join(ck, n), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if p, err := ReadPointer(cdir); err == nil {
			for _, n := range append([]string{p.Latest, p.Best}, p.Checkpoints...) {
				if n != "" && !isCheckpointName(n) {
					t.Fatalf("ReadPointer accepted entry %q", n)
				}
			}
		}
		for _, best := range []bool{false, true} {
			if d, prefix, err := ResolveCheckpoint(run, best); err == nil {
				if !strings.HasPrefix(d, cdir+string(filepath.Separator)) || !strings.HasPrefix(prefix, d) {
					t.Fatalf("ResolveCheckpoint led to %s (%s), outside %s", d, prefix, cdir)
				}
			}
		}
		if st, err := ReadState(ck); err == nil {
			if err := st.check(); err != nil {
				t.Fatalf("ReadState accepted a state its check refuses: %v", err)
			}
		}
		IntactCheckpoints(cdir)
		if p, err := RepairPointer(run); err == nil {
			if p.Latest != "ckpt-000000014" {
				t.Fatalf("RepairPointer chose %q", p.Latest)
			}
		}
	})
}

package reliability

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// phase is a part of a training run that a kill aims at.
type phase int

const (
	phaseStep       phase = iota // a training step (or the loading of its batch)
	phaseValidation              // the validation after an epoch's last step
	phaseCheckpoint              // the writing of an epoch's checkpoint
	phaseTest                    // the test evaluation after the last epoch
)

func (p phase) String() string {
	return [...]string{"training step", "validation", "checkpoint write", "test evaluation"}[p]
}

// target is one planned kill: the marker it follows and the delay after it.
type target struct {
	phase  phase
	epoch  int
	step   int // phaseStep: the kill follows the log line of this step (1..steps-1), so it falls in the next
	epochs int
	delay  time.Duration
}

func (g target) String() string {
	if g.phase == phaseStep {
		return fmt.Sprintf("%s %d of epoch %d, %v after its start", g.phase, g.step+1, g.epoch, g.delay.Round(time.Microsecond))
	}
	return fmt.Sprintf("%s of epoch %d, %v after its start", g.phase, g.epoch, g.delay.Round(time.Microsecond))
}

// pos orders targets along a run.
func (g target) pos() int {
	per := tinyStepsPerEpoch + 1
	switch g.phase {
	case phaseStep:
		return (g.epoch-1)*per + g.step - 1
	case phaseValidation:
		return (g.epoch-1)*per + tinyStepsPerEpoch - 1
	case phaseCheckpoint:
		return (g.epoch-1)*per + tinyStepsPerEpoch
	}
	return g.epochs * per
}

// marker is the event the kill's delay counts from (see markerOf).
func (g target) marker() string {
	switch g.phase {
	case phaseStep:
		return fmt.Sprintf("step %d %d", g.epoch, g.step)
	case phaseValidation:
		return fmt.Sprintf("step %d %d", g.epoch, tinyStepsPerEpoch)
	case phaseCheckpoint:
		return fmt.Sprintf("tmp %d", g.epoch*tinyStepsPerEpoch)
	}
	return fmt.Sprintf("summary %d", g.epochs)
}

// span is how long the phase lasted in the reference run: the delay is drawn from [0, span).
func (g target) span(ref *runRecord) time.Duration {
	m := ref.marks
	between := func(a, b string) time.Duration {
		ta, oka := m[a]
		tb, okb := m[b]
		if !oka || !okb || tb.Before(ta) {
			return 0
		}
		return tb.Sub(ta)
	}
	n := g.epoch * tinyStepsPerEpoch
	switch g.phase {
	case phaseStep:
		return between(g.marker(), fmt.Sprintf("step %d %d", g.epoch, g.step+1))
	case phaseValidation:
		if d := between(g.marker(), fmt.Sprintf("tmp %d", n)); d > 0 {
			return d
		}
		return between(g.marker(), fmt.Sprintf("ckpt %d", n))
	case phaseCheckpoint:
		return between(g.marker(), fmt.Sprintf("ckpt %d", n))
	}
	return between(g.marker(), "test")
}

// planKills draws the kills of a campaign over a run of epochs: n == 0 gives one kill per phase,
// otherwise n kills at distinct places. Targets come in the order of the run, so that every resumed
// run gets past the previous kill (it restarts from the last checkpoint, before that place) and the
// campaign makes progress.
func planKills(rng *rand.Rand, epochs, n int, ref *runRecord) []target {
	var all []target
	for e := 1; e <= epochs; e++ {
		for s := 1; s < tinyStepsPerEpoch; s++ {
			all = append(all, target{phase: phaseStep, epoch: e, step: s, epochs: epochs})
		}
		all = append(all, target{phase: phaseValidation, epoch: e, epochs: epochs}, target{phase: phaseCheckpoint, epoch: e, epochs: epochs})
	}
	all = append(all, target{phase: phaseTest, epoch: epochs, epochs: epochs})
	var chosen []target
	if n == 0 {
		for p := phaseStep; p <= phaseTest; p++ {
			var of []target
			for _, g := range all {
				// A checkpoint write killed after the first epoch is resumed, not started over, so
				// what it leaves behind stays.
				if g.phase == p && (p != phaseCheckpoint || g.epoch > 1 || epochs == 1) {
					of = append(of, g)
				}
			}
			chosen = append(chosen, of[rng.IntN(len(of))])
		}
	} else {
		for _, i := range rng.Perm(len(all))[:min(n, len(all))] {
			chosen = append(chosen, all[i])
		}
	}
	slices.SortFunc(chosen, func(a, b target) int { return a.pos() - b.pos() })
	for i := range chosen {
		// Within the first 80% of the phase's length in the reference run, which varies from run to run.
		chosen[i].delay = time.Duration(0.8 * rng.Float64() * float64(chosen[i].span(ref)))
	}
	return chosen
}

// TestKillResume kills cmd/train with SIGKILL at seeded random moments (during a training step,
// during validation, while a checkpoint is written, during the test evaluation), checks after every
// kill that each checkpoint on disk restores, resumes each time (or starts over when no checkpoint
// was written yet), and requires the final weights, metrics, summary and test results to equal those
// of a run that was never interrupted.
func TestKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a reference run and a run killed several times")
	}
	n, epochs := *killsFlag, 2
	if *longFlag && n == 0 {
		n = 24
	}
	if n > 0 {
		epochs = max(3, (n+tinyStepsPerEpoch)/(tinyStepsPerEpoch+1))
	}
	ref := reference(t, epochs)
	rng := rand.New(rand.NewPCG(*seedFlag, uint64(epochs)))
	targets := planKills(rng, epochs, n, ref)
	bin := command(t, "train")
	dir := filepath.Join(t.TempDir(), "run")

	phases := map[string]int{}
	var kills, starts, verified, missed int
	start0 := time.Now()
	for remaining := targets; ; {
		args := nextStart(t, bin, ref.config, dir)
		starts++
		before := entries(filepath.Join(dir, "checkpoints"))
		p := start(t, bin, args, filepath.Join(dir, "checkpoints"), childEnv())
		hit, snap := drive(p, remaining, dir)
		snap = slices.DeleteFunc(snap, func(e string) bool { return slices.Contains(before, e) }) // this run's own
		code, out := p.wait()
		noPanic(t, out)
		if code == 0 {
			for _, g := range remaining {
				t.Logf("missed: %v (the run was past it)", g)
			}
			if len(remaining) > 0 {
				t.Logf("output of the last run:\n%s", out)
			}
			missed += len(remaining)
			break
		}
		if hit < 0 || code != 128+9 {
			t.Fatalf("run %d (%s): exit status %d, want 0 or a kill\n%s", starts, strings.Join(args, " "), code, out)
		}
		for _, g := range remaining[:hit] {
			t.Logf("missed: %v (the run was past it)", g)
		}
		missed += hit
		g := remaining[hit]
		remaining = remaining[hit+1:]
		kills++
		landed := classify(snap, out, epochs)
		phases[landed]++
		t.Logf("kill %d: aimed at %v; landed in %s", kills, g, landed)
		c, _ := checkCheckpoints(t, dir)
		verified += c
		if t.Failed() {
			t.Fatalf("after kill %d (%s) a checkpoint is unreadable; output of the killed run:\n%s", kills, landed, out)
		}
	}
	if kills < (len(targets)+1)/2 {
		t.Errorf("only %d of %d planned kills happened: the runs went past the others", kills, len(targets))
	}
	equal := compareOutcomes(t, readOutcome(t, ref.dir), readOutcome(t, dir))
	if l := leftovers(t, dir); len(l) > 0 {
		t.Errorf("killed runs left %d temporary or orphaned entries that nothing removes:\n  %s", len(l), strings.Join(l, "\n  "))
	}
	var ps []string
	for k, v := range phases {
		ps = append(ps, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(ps)
	t.Logf("kill campaign (seed %d, %d epochs): %d kills survived (%s), %d missed, %d starts, %d checkpoint restores verified, final state equal to the uninterrupted run: %v; %s",
		*seedFlag, epochs, kills, strings.Join(ps, ", "), missed, starts, verified, equal, time.Since(start0).Round(time.Second))
}

// nextStart returns the arguments that continue the run in dir: -resume when it has a checkpoint,
// a fresh start when there is nothing yet, and -force when a run was killed before its first
// checkpoint (after checking that -resume then fails with a clear message).
func nextStart(t *testing.T, bin, config, dir string) []string {
	t.Helper()
	fresh := []string{"-config", config, "-out", dir}
	if _, err := os.Stat(filepath.Join(dir, "checkpoints", "checkpoint.json")); err == nil {
		return []string{"-resume", "-out", dir}
	}
	if _, err := os.Stat(filepath.Join(dir, "config.yaml")); err != nil {
		if err := os.RemoveAll(dir); err != nil { // killed during start-up: nothing to keep
			t.Fatal(err)
		}
		return fresh
	}
	code, out := runCmd(t, bin, []string{"-resume", "-out", dir}, childEnv())
	noPanic(t, out)
	if code == 0 || !strings.Contains(out, "no checkpoint") {
		t.Errorf("-resume of a run killed before its first checkpoint: exit status %d, want a failure saying there is no checkpoint:\n%s", code, out)
	}
	return append(fresh, "-force")
}

// drive follows a run until the moment of one of the targets (the first whose marker comes), then
// freezes the process (SIGSTOP), notes the entries of its checkpoint directory and kills it (SIGKILL).
// It returns the target's index and the entries, or -1 when the process ended first.
func drive(p *proc, targets []target, dir string) (int, []string) {
	var timer <-chan time.Time
	hit := -1
	for {
		select {
		case ev, ok := <-p.events:
			if !ok {
				return -1, nil
			}
			if timer != nil {
				continue
			}
			m := markerOf(ev)
			for i, g := range targets {
				switch {
				case m == g.marker():
					hit, timer = i, time.After(g.delay)
				case g.phase == phaseCheckpoint && m == fmt.Sprintf("ckpt %d", g.epoch*tinyStepsPerEpoch):
					hit, timer = i, time.After(0) // written too fast to see its temporary directory
				}
				if timer != nil {
					break
				}
			}
		case <-timer:
			err := p.freeze()
			names := entries(filepath.Join(dir, "checkpoints"))
			p.kill()
			if err != nil {
				return -1, nil
			}
			return hit, names
		}
	}
}

// entries lists the names in dir.
func entries(dir string) []string {
	var names []string
	list, _ := os.ReadDir(dir)
	for _, e := range list {
		names = append(names, e.Name())
	}
	return names
}

// classify names the phase a run was killed in from the entries it made in its checkpoint directory
// until the moment of the kill and its last progress line (the output is complete: the process was
// frozen, then killed).
func classify(made []string, out string, epochs int) string {
	for _, e := range made {
		if strings.HasPrefix(e, ".tmp-ckpt-") {
			return "checkpoint write"
		}
	}
	last := ""
	for _, line := range strings.Split(out, "\n") {
		if m := markerOf(event{line: line}); m != "" {
			last = m
		}
	}
	var e, s int
	switch {
	case last == "":
		return "start-up"
	case last == "test":
		return "exit"
	case strings.HasPrefix(last, "summary"):
		fmt.Sscanf(last, "summary %d", &e)
		if e == epochs {
			return "test evaluation"
		}
		return "between epochs"
	}
	fmt.Sscanf(last, "step %d %d", &e, &s)
	if s < tinyStepsPerEpoch {
		return "training step"
	}
	if slices.Contains(made, fmt.Sprintf("ckpt-%09d", e*tinyStepsPerEpoch)) {
		return "after checkpoint"
	}
	return "validation"
}

// TestForceAfterKilledStartUp: a run killed while writing its first file (config.yaml, through a
// temporary file) leaves a directory holding only that temporary file. -resume cannot continue it,
// so -force must start it over rather than refuse it as not a run directory.
func TestForceAfterKilledStartUp(t *testing.T) {
	bin := command(t, "train")
	cfg := writeConfig(t, t.TempDir(), "tiny.yaml", tinyConfig(dataset(t), 2))
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".tmp-config.yaml-1234"), []byte("model:\n  att"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, bin, []string{"-config", cfg, "-out", dir, "-force"}, "", childEnv())
	started := false
	for ev := range p.events {
		if strings.HasPrefix(ev.line, "run ") && !started {
			started = true
			p.kill() // it got past the run directory's checks: enough
		}
	}
	out := p.output()
	noPanic(t, out)
	if !started {
		t.Errorf("-force on a run killed during start-up: exit status %d, want a new run\n%s", exitCode(p.err), out)
	}
}

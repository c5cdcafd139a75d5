package sweep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DefaultGrace is how long an interrupted run may take to write its checkpoint before it is killed.
const DefaultGrace = 5 * time.Minute

// Runner executes runs as child processes of a trainer executable.
type Runner struct {
	// Trainer is the trainer executable (cmd/train built once); it is given Run.Args.
	Trainer string
	// Env is added to the sweep's environment for the children.
	Env []string
	// Parallel is the number of runs at a time (at least 1).
	Parallel int
	// FailFast stops the sweep at the first failed run: runs not started are left, running ones interrupted.
	FailFast bool
	// Grace is how long a child may take to exit after SIGINT before it is killed; 0 means DefaultGrace.
	Grace time.Duration
	// Progress receives one line per run started and ended; nil is quiet.
	Progress io.Writer

	progressMu sync.Mutex // one line at a time from the parallel runs
}

// Status is how a run of a sweep ended.
type Status int

const (
	// Skipped: the run had finished before (summary.json).
	Skipped Status = iota
	// Finished: the run trained to its end and wrote summary.json.
	Finished
	// Failed: the trainer failed; Outcome.Err and the log say why.
	Failed
	// Interrupted: the sweep was cancelled (or stopped by -fail-fast) while the run trained; it resumes
	// on the next sweep.
	Interrupted
	// NotStarted: the sweep was cancelled before the run started.
	NotStarted
)

func (s Status) String() string {
	switch s {
	case Skipped:
		return "skipped"
	case Finished:
		return "finished"
	case Failed:
		return "failed"
	case Interrupted:
		return "interrupted"
	case NotStarted:
		return "not started"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Outcome is the result of one run of a sweep.
type Outcome struct {
	Run     Run
	Found   State // the state of the run directory before the sweep touched it
	Status  Status
	Err     error  // why the run failed
	Log     string // RUN/train.log; empty for skipped and not started runs
	Elapsed time.Duration
}

// Execute runs every run not yet done, Parallel at a time, and returns one outcome per run in the order
// given. A failed run does not stop the others unless FailFast is set. When ctx is cancelled, running
// children get SIGINT (so that they checkpoint) and Grace to exit, and runs not started are left. The
// error is non-nil only when the sweep itself could not work (for example a run directory that cannot be
// read); failed runs are in the outcomes (see Summarize).
func (r *Runner) Execute(ctx context.Context, runs []Run) ([]Outcome, error) {
	if r.Trainer == "" {
		return nil, errors.New("sweep: no trainer executable")
	}
	out := make([]Outcome, len(runs))
	var todo []int
	for i, run := range runs {
		st, err := Inspect(run.Dir)
		if err != nil {
			return nil, err
		}
		out[i] = Outcome{Run: run, Found: st, Status: NotStarted}
		if st == Done {
			out[i].Status = Skipped
			continue
		}
		todo = append(todo, i)
	}
	r.printf("sweep: %d runs, %d done before, %d to train (%d resumed), %d at a time\n",
		len(runs), len(runs)-len(todo), len(todo), count(out, func(o Outcome) bool { return o.Found == Resume }), r.parallel())

	// stop ends the sweep early for -fail-fast without counting as the caller's cancellation.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex // guards started
	started := 0
	for w := 0; w < min(r.parallel(), len(todo)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				mu.Lock()
				started++
				n := started
				mu.Unlock()
				o := &out[i]
				r.printf("[%d/%d] %s %s\n", n, len(todo), verb(o.Found), o.Run.Name())
				o.Log = filepath.Join(o.Run.Dir, LogFile)
				t0 := time.Now()
				o.Status, o.Err = r.train(ctx, o.Run, o.Found)
				o.Elapsed = time.Since(t0).Round(time.Second)
				switch o.Status {
				case Finished:
					msg := ""
					if top1, err := summaryTop1(o.Run.Dir); err == nil {
						msg = fmt.Sprintf(", test top-1 %.2f%%", 100*top1)
					}
					r.printf("[%d/%d] finished %s in %v%s\n", n, len(todo), o.Run.Name(), o.Elapsed, msg)
				case Failed:
					r.printf("[%d/%d] FAILED %s after %v: %v (log: %s)\n", n, len(todo), o.Run.Name(), o.Elapsed, o.Err, o.Log)
					if r.FailFast {
						stop()
					}
				case Interrupted:
					r.printf("[%d/%d] interrupted %s after %v (log: %s)\n", n, len(todo), o.Run.Name(), o.Elapsed, o.Log)
				}
			}
		}()
	}
feed:
	for _, i := range todo {
		select {
		case <-ctx.Done():
			break feed
		case jobs <- i:
		}
	}
	close(jobs)
	wg.Wait()
	return out, nil
}

func verb(s State) string {
	switch s {
	case Resume:
		return "resuming"
	case Restart:
		return "restarting"
	}
	return "starting"
}

func (r *Runner) parallel() int { return max(1, r.Parallel) }

func (r *Runner) printf(format string, args ...any) {
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	if r.Progress != nil {
		fmt.Fprintf(r.Progress, format, args...)
	}
}

// train runs the trainer for one run, its output appended to RUN/train.log.
func (r *Runner) train(ctx context.Context, run Run, found State) (Status, error) {
	if err := ctx.Err(); err != nil {
		return NotStarted, nil
	}
	log := &runLog{dir: run.Dir}
	switch found {
	case Restart:
		old, err := clearForRestart(run.Dir)
		if err != nil {
			return Failed, err
		}
		log.buf.Write(old)
	case New:
		// The trainer refuses a run directory that is not empty and creates it itself; an empty one
		// left behind goes, so that the log waits for the trainer's.
		if err := os.Remove(run.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Failed, fmt.Errorf("run directory: %w", err)
		}
	}
	args := run.Args(found == Resume)
	fmt.Fprintf(log, "=== sweep %s: %s %s\n", time.Now().Format(time.RFC3339), r.Trainer, strings.Join(args, " "))

	cmd := exec.CommandContext(ctx, r.Trainer, args...)
	cmd.Env = append(os.Environ(), r.Env...)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.Cancel = func() error { return interrupt(cmd.Process) }
	cmd.WaitDelay = r.Grace
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = DefaultGrace
	}
	ownProcessGroup(cmd)
	err := cmd.Run()
	// After a cancellation Run reports the context's error even when the trainer went on to finish (a
	// stop requested in the last epoch still ends with the test evaluation): the process's own status
	// and summary.json decide.
	exit := exitText(err)
	if cmd.ProcessState != nil {
		exit = cmd.ProcessState.String()
	}
	exitedOK := cmd.ProcessState != nil && cmd.ProcessState.Success()
	fmt.Fprintf(log, "=== sweep %s: trainer exited: %s\n", time.Now().Format(time.RFC3339), exit)
	if cerr := log.Close(); cerr != nil {
		return Failed, cerr
	}
	_, statErr := os.Stat(filepath.Join(run.Dir, SummaryFile))
	finished := statErr == nil
	switch {
	case exitedOK && finished:
		return Finished, nil
	case ctx.Err() != nil:
		return Interrupted, nil
	case err != nil:
		return Failed, fmt.Errorf("trainer: %s%s", exit, logTail(log.Path(), 5))
	default:
		return Failed, fmt.Errorf("trainer exited 0 without writing %s", filepath.Join(run.Dir, SummaryFile))
	}
}

// runLog takes a child's output for RUN/train.log. Until the run directory exists it keeps the output in
// memory: the trainer creates the directory itself and refuses one that is not empty, so the log must
// not be there first. Write never fails, so that a full disk cannot stop a run; the first write error is
// returned by Close.
type runLog struct {
	dir string
	mu  sync.Mutex
	buf bytes.Buffer
	f   *os.File
	err error
}

// Path is RUN/train.log.
func (l *runLog) Path() string { return filepath.Join(l.dir, LogFile) }

func (l *runLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		l.buf.Write(p)
		if _, err := os.Stat(l.dir); err == nil {
			l.open()
		}
		return len(p), nil
	}
	if _, err := l.f.Write(p); err != nil && l.err == nil {
		l.err = fmt.Errorf("write %s: %w", l.Path(), err)
	}
	return len(p), nil
}

// open appends what is held to the file and keeps it open; the lock is held.
func (l *runLog) open() {
	f, err := os.OpenFile(l.Path(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		if l.err == nil {
			l.err = fmt.Errorf("open run log: %w", err)
		}
		return
	}
	l.f = f
	if _, err := f.Write(l.buf.Bytes()); err != nil && l.err == nil {
		l.err = fmt.Errorf("write %s: %w", l.Path(), err)
	}
	l.buf.Reset()
}

// Close writes what is held, creating the run directory when the trainer did not, and closes the file.
func (l *runLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		if err := os.MkdirAll(l.dir, 0o755); err != nil {
			return fmt.Errorf("run log: %w", err)
		}
		l.open()
		if l.f == nil {
			return l.err
		}
	}
	if err := l.f.Close(); err != nil && l.err == nil {
		l.err = fmt.Errorf("close %s: %w", l.Path(), err)
	}
	return l.err
}

func exitText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// logTail is the last n lines of the log, indented, for a failure message; empty when unreadable.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var keep []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "=== sweep ") {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	if len(keep) == 0 {
		return ""
	}
	var buf bytes.Buffer
	for _, l := range keep {
		buf.WriteString("\n    | ")
		buf.WriteString(l)
	}
	return buf.String()
}

func count(out []Outcome, f func(Outcome) bool) int {
	n := 0
	for _, o := range out {
		if f(o) {
			n++
		}
	}
	return n
}

// Summarize writes the tally of the outcomes and one line per run that failed, was interrupted or was not
// started, and returns an error when any run did not finish.
func Summarize(w io.Writer, out []Outcome) error {
	tally := map[Status]int{}
	for _, o := range out {
		tally[o.Status]++
	}
	fmt.Fprintf(w, "sweep: %d runs: %d finished, %d skipped (done before), %d failed, %d interrupted, %d not started\n",
		len(out), tally[Finished], tally[Skipped], tally[Failed], tally[Interrupted], tally[NotStarted])
	for _, o := range out {
		switch o.Status {
		case Failed:
			fmt.Fprintf(w, "  failed      %s: %v\n              log: %s\n", o.Run.Name(), o.Err, o.Log)
		case Interrupted:
			fmt.Fprintf(w, "  interrupted %s (resumes on the next sweep; log: %s)\n", o.Run.Name(), o.Log)
		}
	}
	bad := tally[Failed] + tally[Interrupted] + tally[NotStarted]
	switch {
	case tally[Failed] > 0:
		return fmt.Errorf("%d of %d runs failed", tally[Failed], len(out))
	case bad > 0:
		return fmt.Errorf("%d of %d runs did not finish; run the same sweep again to go on", bad, len(out))
	}
	return nil
}

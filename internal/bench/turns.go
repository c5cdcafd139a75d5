package bench

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Turns paces the timed rounds of a measurement that runs in lockstep with a peer in another
// process: before each round Wait blocks until it is this process's turn, after it Done hands the
// turn back. Measured that way, the two sides' rounds alternate and see the same load on a shared
// machine, so their ratio holds even when the load changes during the run. A nil Turns runs freely.
type Turns interface {
	Wait() error
	Done() error
}

// StdioTurns is the worker side of the lockstep protocol RunPair speaks: on the first Wait it writes
// "ready" (setup and warm-up are over), then every Wait reads a "go" line and every Done writes a
// "done" line. The measurement's result follows as the last line.
func StdioTurns(r io.Reader, w io.Writer) Turns {
	return &stdioTurns{r: bufio.NewReader(r), w: w}
}

type stdioTurns struct {
	r     *bufio.Reader
	w     io.Writer
	ready bool
}

func (t *stdioTurns) Wait() error {
	if !t.ready {
		t.ready = true
		if _, err := fmt.Fprintln(t.w, "ready"); err != nil {
			return fmt.Errorf("lockstep: %w", err)
		}
	}
	line, err := t.r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("lockstep: waiting for the turn: %w", err)
	}
	if cmd := strings.TrimSpace(line); cmd != "go" {
		return fmt.Errorf("lockstep: got %q, want go", cmd)
	}
	return nil
}

func (t *stdioTurns) Done() error {
	if _, err := fmt.Fprintln(t.w, "done"); err != nil {
		return fmt.Errorf("lockstep: %w", err)
	}
	return nil
}

// round runs one timed round under turns (nil: freely).
func round(turns Turns, f func() error) error {
	if turns == nil {
		return f()
	}
	if err := turns.Wait(); err != nil {
		return err
	}
	if err := f(); err != nil {
		return err
	}
	return turns.Done()
}

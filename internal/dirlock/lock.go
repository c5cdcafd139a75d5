//go:build unix

package dirlock

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Lock is a held lock. Release it when the work is done; a process that exits holds it no longer.
type Lock struct {
	path string
	f    *os.File
	// Stale describes the holder recorded by a lock file that no process held any more (a killed run),
	// or is empty.
	Stale string
}

// HeldError is the error of Acquire when another process holds the lock.
type HeldError struct {
	Path    string // the lock file
	PID     int    // the holder's pid, 0 when its record could not be read
	Command string // the holder's command line, as it recorded it
	Since   string // when it took the lock (RFC 3339), as it recorded it
}

func (e *HeldError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = fmt.Sprintf("process %d", e.PID)
		if e.Command != "" {
			who += fmt.Sprintf(" (%s)", e.Command)
		}
		if e.Since != "" {
			who += " since " + e.Since
		}
	}
	return fmt.Sprintf("%s is locked by %s: wait for it to finish or stop it; two processes must never write the same directory", e.Path, who)
}

// Acquire takes the lock at path without waiting, creating the file if needed. It fails with a
// *HeldError when a live process holds it.
func Acquire(path string) (*Lock, error) {
	for attempt := 0; attempt < 10; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			held := readRecord(f)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				held.Path = path
				return nil, held
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// A holder that released the lock may have removed the file between our open and our flock: the
		// lock we hold is then on a file no one else will find. Start again on the current file.
		same, err := sameFile(f, path)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !same {
			f.Close()
			continue
		}
		l := &Lock{path: path, f: f}
		if prev := readRecord(f); prev.PID > 0 {
			l.Stale = fmt.Sprintf("process %d (%s) left it behind and no longer holds it", prev.PID, prev.Command)
		}
		if err := l.writeRecord(); err != nil {
			l.Release()
			return nil, err
		}
		return l, nil
	}
	return nil, fmt.Errorf("lock %s: the lock file keeps being replaced; is another program removing it?", path)
}

// Release removes the lock file and releases the lock. It is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Remove before unlocking, so that a process that opens the file after us finds a new one (and the
	// sameFile check sends one that opened the old file back to the start).
	var err error
	if same, _ := sameFile(l.f, l.path); same {
		if e := os.Remove(l.path); e != nil && !errors.Is(e, os.ErrNotExist) {
			err = fmt.Errorf("unlock %s: %w", l.path, e)
		}
	}
	if e := l.f.Close(); e != nil && err == nil { // closing releases the flock
		err = fmt.Errorf("unlock %s: %w", l.path, e)
	}
	l.f = nil
	return err
}

// Path is the lock file.
func (l *Lock) Path() string { return l.path }

func (l *Lock) writeRecord() error {
	rec := fmt.Sprintf("%d\n%s\n%s\n", os.Getpid(), strings.Join(os.Args, " "), time.Now().UTC().Format(time.RFC3339))
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	if _, err := l.f.WriteAt([]byte(rec), 0); err != nil {
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	return nil
}

// readRecord reads what a holder wrote: pid, command line and start time, one a line. Anything it
// cannot parse gives a zero record: the record only informs, the flock decides.
func readRecord(f *os.File) *HeldError {
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	lines := strings.SplitN(string(buf[:n]), "\n", 4)
	h := &HeldError{}
	if len(lines) >= 3 {
		if pid, err := strconv.Atoi(lines[0]); err == nil && pid > 0 {
			h.PID, h.Command, h.Since = pid, lines[1], lines[2]
		}
	}
	return h
}

// sameFile reports whether the open file f is still the file at path.
func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

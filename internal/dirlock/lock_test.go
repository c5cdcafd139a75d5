//go:build unix

package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAcquireExcludesASecondHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Stale != "" {
		t.Errorf("fresh lock reported stale: %s", l.Stale)
	}
	// flock locks belong to open file descriptions, so a second Acquire in this process conflicts as a
	// second process would.
	_, err = Acquire(path)
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second Acquire: %v, want a *HeldError", err)
	}
	if held.PID != os.Getpid() || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Errorf("HeldError names pid %d (%v), want %d", held.PID, err, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file still there after Release: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	l2, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestStaleLockFileIsTakenOver(t *testing.T) {
	cases := []struct {
		name, record string
		wantStale    bool
	}{
		{"killed holder", "999999999\ntrain -out runs/x\n2026-01-01T00:00:00Z\n", true},
		{"empty file", "", false},
		{"garbage", "not a pid\n\x00\xff", false},
		{"negative pid", "-4\nx\ny\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".lock")
			if err := os.WriteFile(path, []byte(c.record), 0o644); err != nil {
				t.Fatal(err)
			}
			l, err := Acquire(path)
			if err != nil {
				t.Fatalf("a lock file no process holds must be taken over: %v", err)
			}
			defer l.Release()
			if (l.Stale != "") != c.wantStale {
				t.Errorf("Stale = %q, want stale %v", l.Stale, c.wantStale)
			}
			rec, _ := os.ReadFile(path)
			if !strings.HasPrefix(string(rec), fmt.Sprintf("%d\n", os.Getpid())) {
				t.Errorf("lock file records %q, want this pid first", rec)
			}
		})
	}
}

func TestAcquireRefusesASymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ".lock")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	if l, err := Acquire(path); err == nil {
		l.Release()
		t.Fatal("Acquire followed a symlink")
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Errorf("the symlink's target was modified: %q", b)
	}
}

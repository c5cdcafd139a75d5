package exported

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/internal/dirlock"
)

func TestClaimOutput(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "model")
	// What a killed export leaves beside its output, and a neighbour that is not ours.
	for _, d := range []string{".model.tmp-123", ".model.tmp-456/variables", ".other.tmp-1", "keep"} {
		if err := os.MkdirAll(filepath.Join(parent, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	release, err := claimOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(parent)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != ".model.lock .other.tmp-1 keep" {
		t.Errorf("beside the output: %s; want the lock, the other export's and the user's directories", got)
	}
	_, err = claimOutput(out)
	var held *dirlock.HeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Errorf("a second export of the same output: %v, want the holder's pid", err)
	}
	release()
	if _, err := os.Stat(filepath.Join(parent, ".model.lock")); !os.IsNotExist(err) {
		t.Errorf("lock file left after release: %v", err)
	}

	cases := []struct {
		name, out, want string
	}{
		{"missing parent", filepath.Join(parent, "no", "such", "model"), "parent directory"},
		{"parent is a file", filepath.Join(parent, "file", "model"), "parent directory"},
		{"output not empty", filepath.Join(parent, "full"), "not empty"},
	}
	os.WriteFile(filepath.Join(parent, "file"), nil, 0o644)
	os.MkdirAll(filepath.Join(parent, "full", "x"), 0o755)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			release, err := claimOutput(c.out)
			if err == nil {
				release()
				t.Fatal("claimOutput went ahead")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(c.out), "."+filepath.Base(c.out)+".lock")); err == nil {
				t.Errorf("a refused export left its lock file: %v", err)
			}
		})
	}
}

func TestCheckLabels(t *testing.T) {
	cases := []struct {
		labels []string
		want   string // "" means valid
	}{
		{[]string{"Black-footed Albatross", "Laysan Albatross", "Geococcyx (roadrunner)", "Ŝtrigo"}, ""},
		{[]string{"a", ""}, "empty"},
		{[]string{"a", "  "}, "empty"},
		{[]string{"a", "b\nc"}, "control"},
		{[]string{"a\tb"}, "control"},
		{[]string{"bell\x07"}, "control"},
		{[]string{"a", "b", "a"}, "labels 0 and 2"},
		{[]string{" padded"}, "white space"},
		{[]string{"bad\xffutf8"}, "UTF-8"},
		{[]string{"del\x7f"}, "control"},
	}
	for _, c := range cases {
		err := checkLabels(c.labels)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q refused: %v", c.labels, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: error %v, want %q", c.labels, err, c.want)
		}
	}
}

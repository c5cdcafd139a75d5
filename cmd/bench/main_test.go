package main

import (
	"errors"
	"strings"
	"testing"
)

// TestRunBadProfile: a -profile command line that cannot run fails before any graph is built, with an
// error naming what is wrong.
func TestRunBadProfile(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantErr   string
		wantUsage bool // a bad command line (exit status 2)
	}{
		{"keras at depth 18", []string{"-profile", "none,keras", "-profile-depth", "18", "-python", "/no/python"}, "depth is 18", false},
		{"keras without python", []string{"-profile", "none,keras", "-python", "none"}, "-profile keras needs a Python", true},
		{"repeated variant", []string{"-profile", "none,none"}, `variant "none" named twice`, false},
		{"keras with a missing python", []string{"-profile", "keras", "-profile-size", "32", "-python", "/no/such/python"}, "/no/such/python", false},
		{"stray argument", []string{"-profile", "none", "extra"}, `unexpected arguments ["extra"]`, true},
	}
	for _, tt := range tests {
		err := run(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err %v, want one containing %q", tt.name, err, tt.wantErr)
			continue
		}
		var u usageError
		if errors.As(err, &u) != tt.wantUsage {
			t.Errorf("%s: err %v is a usage error: %v, want %v", tt.name, err, !tt.wantUsage, tt.wantUsage)
		}
	}
}

package main

import (
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{args: nil, code: 0, stdout: "[[1 2] [3 4]] x [[10] [100]] = [[210] [430]]\n"},
		{args: []string{"-h"}, code: 0, stderr: "Examples:\n  go run ./cmd/tfinfo\n"},
		{args: []string{"-x"}, code: 2, stderr: "flag provided but not defined: -x"},
		{args: []string{"extra"}, code: 2, stderr: "unexpected arguments"},
	}
	for _, tc := range tests {
		var stdout, stderr strings.Builder
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("tfinfo %q: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", tc.args, code, tc.code, stdout.String(), tc.stdout, stderr.String(), tc.stderr)
		}
		if tc.code != 0 || len(tc.args) > 0 {
			if strings.Contains(stdout.String(), "TensorFlow") {
				t.Errorf("tfinfo %q probed TensorFlow: %q", tc.args, stdout.String())
			}
		}
	}
}

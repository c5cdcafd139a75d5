package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	root := t.TempDir()
	for i, v := range []string{"none", "csca"} {
		dir := filepath.Join(root, "synthetic", v, "seed1")
		os.MkdirAll(dir, 0o755)
		summary := `{"dataset": "synthetic", "attention": "` + v + `", "seed": 1, "test_top1": 0.` + []string{"4", "6"}[i] + `, "depth": 18}`
		if err := os.WriteFile(filepath.Join(dir, "summary.json"), []byte(summary), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "synthetic", "ca", "seed1"), 0o755)
	os.WriteFile(filepath.Join(root, "synthetic", "ca", "seed1", "summary.json"), []byte("{"), 0o644)
	out := filepath.Join(t.TempDir(), "out")

	tests := []struct {
		name       string
		args       []string
		usage      bool
		stdout     []string // substrings
		stderr     []string
		files      []string // in out
		wantErrMsg string
	}{
		{name: "no directory", args: nil, usage: true, stderr: []string{"usage: report"}},
		{name: "two directories", args: []string{root, root}, usage: true},
		{name: "bad metric", args: []string{"-metric", "loss", root}, wantErrMsg: `metric "loss"`},
		{name: "missing directory", args: []string{filepath.Join(root, "nope")}, wantErrMsg: "runs directory"},
		{
			name:   "report",
			args:   []string{"-paper", "-out", out, root},
			stdout: []string{"| Synthetic (generated) | 40.00 (1) | — | — | — | **60.00 (1)** |", "### Paper (Du & Ma, Table 1)"},
			stderr: []string{"skipped " + filepath.Join(root, "synthetic", "ca", "seed1", "summary.json"), "report: 2 runs"},
			files:  []string{"report.md", "table.csv", "runs.csv", "accuracy.png"},
		},
		{name: "quiet", args: []string{"-quiet", "-plots=false", "-out", t.TempDir(), root}, stderr: []string{"report: 2 runs"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(tc.args, &stdout, &stderr)
			var u usageError
			if tc.usage != errors.As(err, &u) {
				t.Errorf("err = %v; usage error wanted: %v", err, tc.usage)
			}
			if tc.wantErrMsg != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErrMsg)) {
				t.Errorf("err = %v, want %q", err, tc.wantErrMsg)
			}
			if !tc.usage && tc.wantErrMsg == "" && err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			if tc.name == "quiet" && stdout.Len() != 0 {
				t.Errorf("quiet printed %q", stdout.String())
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			for _, f := range tc.files {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

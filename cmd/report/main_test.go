package main

import (
	"bytes"
	"errors"
	"fmt"
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
		{name: "no directory", args: nil, usage: true, stderr: []string{"Usage: report"}},
		{name: "two directories", args: []string{root, root}, usage: true},
		{name: "bad metric", args: []string{"-metric", "loss", root}, wantErrMsg: `metric "loss"`},
		{name: "missing directory", args: []string{filepath.Join(root, "nope")}, wantErrMsg: "runs directory"},
		{
			name: "report",
			args: []string{"-paper", "-out", out, root},
			stdout: []string{"| Synthetic (generated) | 40.00 (1) | — | — | — | **60.00 (1)** |", "### Paper (Du & Ma, Table 1)",
				"| Synthetic (generated) | CSCA-ResNet18 | +20.00 (1) | not recorded |"},
			stderr: []string{"skipped " + filepath.Join(root, "synthetic", "ca", "seed1", "summary.json"), "report: 2 runs"},
			files:  []string{"report.md", "table.csv", "paired.csv", "runs.csv", "accuracy.png"},
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

// Issue 19: a sweep of two class-folder datasets (-config 'my_{dataset}.yaml' -datasets a,b) printed one
// row "folder" that averaged the two datasets as seeds. Each dataset is its own row.
func TestRunTwoFolderDatasets(t *testing.T) {
	root := t.TempDir()
	for _, d := range []struct {
		name    string
		classes int
		top1    [2]float64
	}{{"a", 4, [2]float64{0.25, 0.35}}, {"b", 6, [2]float64{0.20, 0.30}}} {
		for i, v := range []string{"none", "csca"} {
			for seed := 1; seed <= 2; seed++ {
				dir := filepath.Join(root, d.name, v, fmt.Sprintf("seed%d", seed))
				summary := fmt.Sprintf(`{"dataset": "folder", "data_root": "data/%s", "num_classes": %d, "attention": %q, "seed": %d, "test_top1": %v, "depth": 18, "selection": "last", "epochs": 4, "best_epoch": 4}`,
					d.name, d.classes, v, seed, d.top1[i]+0.01*float64(seed))
				config := fmt.Sprintf("model:\n  attention: %s\n  depth: 18\ndata:\n  format: folder\n  root: data/%s\ntrain:\n  seed: %d\n  selection: last\n", v, d.name, seed)
				for name, text := range map[string]string{"summary.json": summary, "config.yaml": config} {
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-plots=false", "-out", t.TempDir(), root}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| a | 26.50 ± 0.71 (2) | — | — | — | **36.50 ± 0.71 (2)** |",
		"| b | 21.50 ± 0.71 (2) | — | — | — | **31.50 ± 0.71 (2)** |",
		"| a | folder | data/a | 4 |",
		"| b | folder | data/b | 6 |",
		"| a | CSCA-ResNet18 | +10.00 ± 0.00 (2) | +10.00 ± 0.00 (2) |",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "\n| folder |") {
		t.Errorf("a row keyed by the format:\n%s", stdout.String())
	}
}

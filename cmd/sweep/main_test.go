package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSeeds(t *testing.T) {
	tests := []struct {
		in   string
		want []int64
		err  bool
	}{
		{"1,2,3", []int64{1, 2, 3}, false},
		{" 1 , 5-7 ", []int64{1, 5, 6, 7}, false},
		{"-3,4", []int64{-3, 4}, false},
		{"", nil, true},
		{"a", nil, true},
		{"3-1", nil, true},
		{"1-x", nil, true},
		{"1-100000", nil, true},
	}
	for _, tc := range tests {
		got, err := parseSeeds(tc.in)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseSeeds(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// fakeTrainer writes a shell script that acts as cmd/train: it records its arguments and writes
// summary.json in its -out directory, or fails for the run whose directory ends in failDir.
func fakeTrainer(t *testing.T, failDir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "train.sh")
	script := `#!/bin/sh
out=""
prev=""
for a in "$@"; do
  if [ "$prev" = "-out" ]; then out="$a"; fi
  prev="$a"
done
echo "fake train $*"
case "$out" in
  *` + failDir + `) echo "boom" >&2; exit 4 ;;
esac
mkdir -p "$out/checkpoints"
echo "$*" >> "$out/args.txt"
echo '{"test_top1": 0.5}' > "$out/summary.json"
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	demo := filepath.Join(dir, "demo.yaml")
	os.WriteFile(demo, []byte("data:\n  format: synthetic\n"), 0o644)
	out := filepath.Join(dir, "runs")
	base := []string{"-config", demo, "-datasets", "synthetic", "-variants", "none,csca", "-seeds", "1-2", "-out", out, "-set", "train.epochs=1"}
	tests := []struct {
		name    string
		args    []string
		usage   bool
		errText string
		stdout  []string
		runs    int // run directories with summary.json afterwards
	}{
		{name: "dry run", args: append(base, "-dry-run"), runs: 0,
			stdout: []string{"new      synthetic/none/seed1", "go run ./cmd/train -config " + demo + " -set model.attention=none -set train.seed=1 -set train.epochs=1 -out " + filepath.Join(out, "synthetic/none/seed1"),
				"plan: 4 runs: 4 new, 0 restart"}},
		{name: "bad seeds", args: append(base, "-seeds", "x"), usage: true},
		{name: "bad parallel", args: append(base, "-parallel", "0"), usage: true},
		{name: "sweep-set seed", args: append(base, "-set", "train.seed=3"), usage: true},
		{name: "stray argument", args: append(base, "extra"), usage: true},
		{name: "one run fails", args: append(base, "-parallel", "2", "-trainer", fakeTrainer(t, "csca/seed2")), errText: "1 of 4 runs failed", runs: 3,
			stdout: []string{"3 finished, 0 skipped", "failed      synthetic/csca/seed2: trainer: exit status 4", "| boom", filepath.Join(out, "synthetic/csca/seed2/train.log")}},
		{name: "again: skip the finished", args: append(base, "-trainer", fakeTrainer(t, "nothing")), runs: 4,
			stdout: []string{"1 finished, 3 skipped"}},
		{name: "dry run when done", args: append(base, "-dry-run"), runs: 4, stdout: []string{"plan: 4 runs: 0 new, 0 restart (no checkpoint: cleared, log kept), 0 resume, 4 done"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			var u usageError
			if errors.As(err, &u) != tc.usage {
				t.Errorf("err = %v, usage error wanted: %v", err, tc.usage)
			}
			switch {
			case tc.errText != "":
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Errorf("err = %v, want %q", err, tc.errText)
				}
			case !tc.usage && err != nil:
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			done, _ := filepath.Glob(filepath.Join(out, "*", "*", "*", "summary.json"))
			if len(done) != tc.runs {
				t.Errorf("%d finished runs, want %d", len(done), tc.runs)
			}
		})
	}
}

// TestUsage: -h prints the usage with examples and is not an error (main exits 0); a bad flag is a
// usage error (exit 2).
func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	if !strings.HasPrefix(stderr.String(), "Usage: sweep ") || !strings.Contains(stderr.String(), "\nExamples:\n  go run ./cmd/sweep ") {
		t.Errorf("usage:\n%s", stderr.String())
	}
	var u usageError
	if err := run(context.Background(), []string{"-nosuch"}, &stdout, &stderr); !errors.As(err, &u) {
		t.Errorf("an unknown flag: %v, want a usage error", err)
	}
}

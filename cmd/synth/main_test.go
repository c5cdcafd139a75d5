package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "bench")
	sheet := filepath.Join(dir, "docs", "sheet.png")
	small := []string{"-classes", "3", "-per-class", "4", "-size", "40"}
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderr     string
		wantOutput []string // files that must exist afterwards
	}{
		{name: "help", args: []string{"-h"}, code: 0, stderr: "-per-class"},
		{name: "help has examples", args: []string{"-h"}, code: 0, stderr: "Examples:\n  go run ./cmd/synth -out data/synth\n"},
		{name: "no work", args: nil, code: 2, stderr: "nothing to do"},
		{name: "unknown flag", args: []string{"-colours", "3"}, code: 2, stderr: "flag provided but not defined: -colours"},
		{name: "stray argument", args: []string{"-out", out, "extra"}, code: 2, stderr: `unexpected arguments ["extra"]`},
		{name: "bad value", args: []string{"-out", out, "-classes", "1"}, code: 1, stderr: "synth: classes 1 is not in 2..405"},
		{name: "bad number", args: []string{"-size", "big"}, code: 2, stderr: `invalid value "big" for flag -size`},
		{name: "sheet too big", args: append([]string{"-contact", sheet, "-contact-classes", "9"}, small...), code: 1, stderr: "does not fit"},
		{name: "generate", args: append([]string{"-out", out, "-contact", sheet, "-contact-classes", "3", "-contact-samples", "2"}, small...), code: 0,
			stdout: "wrote 3 species × 4 images of 40 px to", wantOutput: []string{filepath.Join(out, "images.txt"), sheet}},
		{name: "again", args: append([]string{"-out", out}, small...), code: 0, stdout: "already holds this benchmark"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("run(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q",
					tt.args, code, stdout.String(), stderr.String(), tt.code, tt.stdout, tt.stderr)
			}
			for _, f := range tt.wantOutput {
				if _, err := os.Stat(f); err != nil {
					t.Error(err)
				}
			}
		})
	}
	f, err := os.Open(sheet)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 2*43+3 || b.Dy() != 3*43+3 {
		t.Errorf("sheet is %v", b)
	}
}

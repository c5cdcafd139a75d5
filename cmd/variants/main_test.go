package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/train"
)

func TestTable(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-depth", "18", "-size", "32", "-iters", "1", "-variants", "none,csca", "-classes", "10"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[2], "| variant | parameters | GFLOPs |") {
		t.Fatalf("table:\n%s", out.String())
	}
	// ResNet-18 with a 10-class classifier: 11,181,642 parameters.
	if !strings.HasPrefix(lines[4], "| none | 11,181,642 | ") || !strings.HasPrefix(lines[5], "| csca | ") {
		t.Errorf("rows:\n%s\n%s", lines[4], lines[5])
	}
	for _, bad := range [][]string{{"-iters", "0"}, {"-variants", "cbam"}, {"-depth", "19"}} {
		if err := run(context.Background(), bad, &out, io.Discard); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 25557032: "25,557,032"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestFlagsFollowTraining: the table describes the models training builds unless a flag says otherwise,
// and -h is a usage with examples, not an error.
func TestFlagsFollowTraining(t *testing.T) {
	d := train.Default().Model
	fs, _ := newFlags(io.Discard)
	for name, want := range map[string]string{"form": string(d.GateForm), "fusion": string(d.CSCAFusion), "depth": fmt.Sprint(d.Depth)} {
		if got := fs.Lookup(name).DefValue; got != want {
			t.Errorf("-%s defaults to %q, training to %q", name, got, want)
		}
	}
	if d.GateForm != "residual" {
		t.Errorf("training's gate form is %q: update this test's expectations with the default", d.GateForm)
	}
	var stderr strings.Builder
	if err := run(context.Background(), []string{"-h"}, io.Discard, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp (exit status 0)", err)
	}
	if !strings.Contains(stderr.String(), "Examples:\n  go run ./cmd/variants") {
		t.Errorf("usage lacks examples:\n%s", stderr.String())
	}
	var u usageError
	if err := run(context.Background(), []string{"-nosuch"}, io.Discard, io.Discard); !errors.As(err, &u) {
		t.Errorf("an unknown flag: %v, want a usage error (exit status 2)", err)
	}
}

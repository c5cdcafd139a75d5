package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-depth", "18", "-size", "32", "-iters", "1", "-variants", "none,csca", "-classes", "10"}, &out); err != nil {
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
		if err := run(context.Background(), bad, &out); err == nil {
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

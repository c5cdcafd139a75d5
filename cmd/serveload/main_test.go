package main

import (
	"io"
	"math"
	"strings"
	"testing"
)

func TestPercentile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want float64
	}{{0.5, 5}, {0.95, 10}, {0.99, 10}, {0.1, 1}, {0.11, 2}, {1, 10}} {
		if got := percentile(v, tc.q); got != tc.want {
			t.Errorf("percentile(1..10, %g) = %g, want %g", tc.q, got, tc.want)
		}
	}
	if !math.IsNaN(percentile(nil, 0.5)) {
		t.Error("percentile of nothing is not NaN")
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %g, want %g", tc.in, got, tc.want)
		}
	}
}

func TestSpliceSection(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
		err             bool
	}{
		{"empty", "", "<!-- serve:begin -->\nnew\n<!-- serve:end -->\n", false},
		{"append", "# B\n\ntext\n\n", "# B\n\ntext\n\n<!-- serve:begin -->\nnew\n<!-- serve:end -->\n", false},
		{"replace", "a\n<!-- serve:begin -->\nold\nold\n<!-- serve:end -->\nb\n", "a\n<!-- serve:begin -->\nnew\n<!-- serve:end -->\nb\n", false},
		{"end only", "a\n<!-- serve:end -->\n", "", true},
		{"reversed", "<!-- serve:end -->\n<!-- serve:begin -->\n", "", true},
		{"twice", "<!-- serve:begin -->\n<!-- serve:end -->\n<!-- serve:begin -->\n<!-- serve:end -->\n", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := spliceSection([]byte(tc.doc), "\nnew\n")
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error %v", err, tc.err)
			}
			if !tc.err && string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestParseRSS(t *testing.T) {
	got, err := parseRSS([]byte("Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t  2048 kB\n"))
	if err != nil || got != 2048<<10 {
		t.Errorf("parseRSS = %d, %v; want %d", got, err, 2048<<10)
	}
	for _, bad := range []string{"Name: x\n", "VmRSS: 12 MB\n", "VmRSS: x kB\n"} {
		if _, err := parseRSS([]byte(bad)); err == nil {
			t.Errorf("parseRSS(%q): no error", bad)
		}
	}
}

func TestRequestBodies(t *testing.T) {
	a, b := requestBodies(3, 4, 2), requestBodies(3, 4, 2)
	if string(a[0]) != string(b[0]) || string(a[0]) == string(a[1]) {
		t.Fatal("request bodies are not deterministic per seed, or not different per image")
	}
	if !strings.Contains(string(a[0]), `"instances": [[[`) || strings.Count(string(a[0]), "[") != 2+1+4+16 {
		t.Errorf("body is not one 4×4×3 image in the row format: %s", a[0])
	}
	if _, err := probabilities([]byte(`{"predictions": [[0.5, 0.5]]}`), 2); err != nil {
		t.Error(err)
	}
	if _, err := probabilities([]byte(`{"predictions": [[0.5, 0.5]]}`), 3); err == nil {
		t.Error("a prediction of the wrong length is accepted")
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-clients", "0"}, {"-pairs", "-1"}, {"x"}, {"-size", "0"}, {"-run_timeout", "0s"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if o, err := parseFlags(nil, io.Discard); err != nil || o.pairs < 3 {
		t.Errorf("defaults: %v, %d pairs (want at least 3)", err, o.pairs)
	}
}

package main

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestParseInts(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		ok   bool
	}{
		{"1,2", []int{1, 2}, true},
		{" 4 ", []int{4}, true},
		{"0", nil, false},
		{"1,x", nil, false},
	}
	for _, tt := range tests {
		got, err := parseInts(tt.in)
		if (err == nil) != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("parseInts(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// measureGo runs the real pipeline on generated files and times the images after the warm-up batch.
func TestMeasureGo(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i := range 2 {
		path := filepath.Join(dir, "a"+string(rune('0'+i))+".jpg")
		if err := writeJPEG(path, 120, 90, uint64(i)); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	n, r, err := measureGo(files, 16, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n != 16 || r.PerSec <= 0 || r.PerCPUSec <= 0 {
		t.Errorf("%d images at %+v, want 16 at positive rates", n, r)
	}
}

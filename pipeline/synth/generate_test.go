package synth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finegrain/finegrain/pipeline/datasets"
)

// tree returns the SHA-256 of every file under dir, by relative path.
func tree(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGenerate(t *testing.T) {
	cfg := Config{Classes: 4, PerClass: 5, Size: 48, Difficulty: 0.7, TrainFraction: 0.6, Seed: 9, Workers: 1}
	dir := filepath.Join(t.TempDir(), "bench")
	if err := Generate(context.Background(), dir, cfg); err != nil {
		t.Fatal(err)
	}
	idx, err := datasets.Open("synthetic", dir)
	if err != nil {
		t.Fatal(err)
	}
	species, _ := Classes(cfg)
	var names []string
	for _, sp := range species {
		names = append(names, sp.Name)
	}
	if !slices.Equal(idx.Classes, names) {
		t.Errorf("classes %q, want %q", idx.Classes, names)
	}
	if len(idx.Train) != 4*3 || len(idx.Test) != 4*2 {
		t.Errorf("%d train, %d test; want 12, 8", len(idx.Train), len(idx.Test))
	}
	for _, r := range append(idx.Train, idx.Test...) {
		f, err := os.Open(r.Path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", r.Path, err)
		}
		if img.Bounds() != image.Rect(0, 0, 48, 48) {
			t.Errorf("%s: bounds %v", r.Path, img.Bounds())
		}
		if !strings.Contains(filepath.Base(filepath.Dir(r.Path)), idx.Classes[r.Label]) {
			t.Errorf("%s is labelled %s", r.Path, idx.Classes[r.Label])
		}
		if b := r.BBox; b == nil || b.X2-b.X1 < 10 || b.Y2-b.Y1 < 5 || b.X2 > 48 || b.Y2 > 48 {
			t.Errorf("%s: bird box %v", r.Path, b)
		}
	}
	for _, f := range []string{"parts/parts.txt", "parts/part_locs.txt", "attributes/species.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if !Complete(dir, cfg) {
		t.Fatal("not complete after Generate")
	}
	first := tree(t, dir)

	// The same config again is a no-op: nothing is rewritten.
	stamp := time.Now().Add(-time.Hour)
	marker := filepath.Join(dir, MarkerFile)
	os.Chtimes(marker, stamp, stamp)
	if err := Generate(context.Background(), dir, cfg); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(marker); !st.ModTime().Equal(stamp) {
		t.Error("a complete benchmark was generated again")
	}

	// Other worker counts give byte-identical files; so does regenerating after an interruption.
	for _, workers := range []int{2, 3} {
		other := filepath.Join(t.TempDir(), "b")
		c := cfg
		c.Workers = workers
		if err := Generate(context.Background(), other, c); err != nil {
			t.Fatal(err)
		}
		if got := tree(t, other); !maps.Equal(got, first) {
			t.Errorf("%d workers wrote different files", workers)
		}
	}
	os.WriteFile(filepath.Join(dir, IncompleteFile), nil, 0o644)
	os.Remove(filepath.Join(dir, "images.txt"))
	if Complete(dir, cfg) {
		t.Fatal("an interrupted benchmark counts as complete")
	}
	if err := Generate(context.Background(), dir, cfg); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); !maps.Equal(got, first) {
		t.Error("regenerating after an interruption wrote different files")
	}

	// A different config replaces the benchmark.
	c := cfg
	c.Seed = 10
	if Complete(dir, c) {
		t.Fatal("complete for another seed")
	}
	if err := Generate(context.Background(), dir, c); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); maps.Equal(got, first) {
		t.Error("another seed wrote the same files")
	}
}

func TestGenerateErrors(t *testing.T) {
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "thesis.tex"), []byte("x"), 0o644)
	cfg := Config{Classes: 2, PerClass: 2, Size: 32}
	err := Generate(context.Background(), foreign, cfg)
	if err == nil || !strings.Contains(err.Error(), "is not empty and holds no synthetic benchmark") {
		t.Errorf("foreign folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(foreign, "thesis.tex")); err != nil {
		t.Error("Generate touched a foreign folder")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if err := Generate(ctx, dir, Config{Classes: 3, PerClass: 40, Size: 64}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, IncompleteFile)); err != nil {
		t.Error("a cancelled benchmark is not marked incomplete")
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Classes: 1}, "classes 1 is not in 2..405"},
		{Config{Classes: 406}, "classes 406 is not in 2..405"},
		{Config{PerClass: 1}, "images per class 1 is less than 2"},
		{Config{Size: 16}, "image size 16 is not in 32..2048"},
		{Config{Difficulty: 1.5}, "difficulty 1.5 is not in [0, 1]"},
		{Config{Difficulty: -0.1}, "difficulty -0.1"},
		{Config{TrainFraction: 1}, "train fraction 1 is not in (0, 1)"},
		{Config{Quality: 101}, "JPEG quality 101"},
		{Config{Workers: -1}, "workers -1 is negative"},
		{Config{FirstClass: -1}, "first class -1 with 20 classes is not in 0..385"},
		{Config{FirstClass: 386}, "first class 386 with 20 classes is not in 0..385: there are 405 species, so first class + classes must be at most 405"},
		{Config{Classes: 2, FirstClass: 404}, "first class 404 with 2 classes is not in 0..403"},
		{Config{FirstClass: 385}, ""},
		{Config{Classes: 2, FirstClass: 403}, ""},
		{Config{}, ""},
	} {
		err := tt.cfg.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestSpecies(t *testing.T) {
	names := map[string]bool{}
	prev := speciesOf(0)
	for k := range MaxClasses {
		sp := speciesOf(k)
		if names[sp.Name] {
			t.Fatalf("species %d repeats the name %s", k, sp.Name)
		}
		names[sp.Name] = true
		if k > 0 {
			diff := 0
			for a := range numAttrs {
				if sp.attrs[a] != prev.attrs[a] {
					diff++
				}
			}
			if diff != 1 {
				t.Fatalf("species %d (%s) and %d (%s) differ in %d attributes, want 1", k-1, prev.Name, k, sp.Name, diff)
			}
		}
		prev = sp
	}
	if sp := speciesOf(16); sp.Name != "Blue_barred_Gold_eyed_Tufted_Finch" || sp.Attributes["crest"] != "tuft" {
		t.Errorf("species 16 = %s %v", sp.Name, sp.Attributes)
	}
}

func TestContactSheet(t *testing.T) {
	var buf bytes.Buffer
	cfg := Config{Size: 40}
	if err := ContactSheet(&buf, cfg, 3, 4); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := img.Bounds().Size(), image.Pt(4*43+3, 3*43+3); got != want {
		t.Errorf("sheet size %v, want %v", got, want)
	}
	if err := ContactSheet(&buf, cfg, 21, 4); err == nil {
		t.Error("more classes than the benchmark has accepted")
	}
}

func BenchmarkRender128(b *testing.B) {
	sp := speciesOf(7)
	for i := 0; b.Loop(); i++ {
		render(sp, 128, 0.5, 1, i)
	}
}

// BenchmarkGenerateDemo generates the demo's benchmark: 20 classes × 60 images of 128 pixels.
func BenchmarkGenerateDemo(b *testing.B) {
	for b.Loop() {
		if err := Generate(context.Background(), b.TempDir(), DefaultConfig()); err != nil {
			b.Fatal(err)
		}
	}
}

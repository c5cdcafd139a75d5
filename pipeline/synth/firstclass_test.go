package synth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// speciesRows reads attributes/species.txt of a generated benchmark: each class's attribute values
// without its class id, the species' identity as the files on disk state it.
func speciesRows(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "attributes", "species.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		rows = append(rows, strings.Join(f[1:], " "))
	}
	return rows
}

func generate(t *testing.T, cfg Config) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bench")
	if err := Generate(context.Background(), dir, cfg); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestFirstClassShared generates two benchmarks and counts the species (attribute combinations) they
// share: none for disjoint ranges, the overlap otherwise.
func TestFirstClassShared(t *testing.T) {
	for _, tt := range []struct {
		name         string
		first, other [2]int // first class, classes
		shared       int
	}{
		{"pretrain then fine-grained", [2]int{0, 4}, [2]int{4, 3}, 0},
		{"adjacent the other way", [2]int{5, 2}, [2]int{0, 5}, 0},
		{"far apart", [2]int{0, 3}, [2]int{400, 5}, 0},
		{"overlap of two", [2]int{0, 4}, [2]int{2, 3}, 2},
		{"same range", [2]int{3, 3}, [2]int{3, 3}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := func(r [2]int) Config {
				return Config{FirstClass: r[0], Classes: r[1], PerClass: 2, Size: 32, Seed: 1, Workers: 1}
			}
			a, b := speciesRows(t, generate(t, cfg(tt.first))), speciesRows(t, generate(t, cfg(tt.other)))
			if len(a) != tt.first[1] || len(b) != tt.other[1] {
				t.Fatalf("%d and %d species listed, want %d and %d", len(a), len(b), tt.first[1], tt.other[1])
			}
			shared := 0
			for _, row := range b {
				if slices.Contains(a, row) {
					shared++
				}
			}
			if shared != tt.shared {
				t.Errorf("%d species shared (%q and %q), want %d", shared, a, b, tt.shared)
			}
		})
	}
}

// TestFirstClassProtocol checks the ranges the protocol uses (scripts/protocol.sh) without generating
// them: 100 pretraining species and 20 fine-grained ones after them share no attribute combination.
func TestFirstClassProtocol(t *testing.T) {
	pre, err := Classes(Config{Classes: 100})
	if err != nil {
		t.Fatal(err)
	}
	fine, err := Classes(Config{FirstClass: 100, Classes: 20})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, sp := range pre {
		seen[fmt.Sprint(sp.Attributes)] = sp.Index
	}
	for k, sp := range fine {
		if sp.ID != k || sp.Index != 100+k {
			t.Errorf("class %d: ID %d, index %d; want %d, %d", k, sp.ID, sp.Index, k, 100+k)
		}
		if i, ok := seen[fmt.Sprint(sp.Attributes)]; ok {
			t.Errorf("fine-grained class %d (%s) is pretraining species %d", k, sp.Name, i)
		}
	}
}

// TestFirstClassSubset checks that a species looks the same whatever benchmark holds it, and that a
// benchmark of one range is not taken for one of another.
func TestFirstClassSubset(t *testing.T) {
	whole := Config{Classes: 5, PerClass: 3, Size: 32, Difficulty: 0.5, Seed: 4, Workers: 1}
	part := whole
	part.FirstClass, part.Classes = 3, 2
	wd, pd := generate(t, whole), generate(t, part)
	wt, pt := tree(t, wd), tree(t, pd)
	ws, _ := Classes(whole)
	ps, _ := Classes(part)
	for k, sp := range ps {
		if sp.Name != ws[k+3].Name {
			t.Fatalf("class %d is %s, want %s", k, sp.Name, ws[k+3].Name)
		}
		for j := range part.PerClass {
			p := filepath.FromSlash("images/" + imagePath(sp, j))
			w := filepath.FromSlash("images/" + imagePath(ws[k+3], j))
			if _, ok := pt[p]; !ok {
				t.Fatalf("%s missing", p)
			}
			if pt[p] != wt[w] {
				t.Errorf("%s differs from %s of the whole benchmark", p, w)
			}
		}
		if !slices.Equal(isTrain(part, sp.Index), isTrain(whole, ws[k+3].Index)) {
			t.Errorf("class %d is split differently from species %d of the whole benchmark", k, k+3)
		}
	}
	labels, _ := os.ReadFile(filepath.Join(pd, "image_class_labels.txt"))
	if want := "1 1\n2 1\n3 1\n4 2\n5 2\n6 2\n"; string(labels) != want {
		t.Errorf("labels %q, want %q: class ids start at 1 whatever the first species", labels, want)
	}

	marker, _ := os.ReadFile(filepath.Join(pd, MarkerFile))
	if !strings.Contains(string(marker), `"first_class": 3`) {
		t.Errorf("%s does not record the first class:\n%s", MarkerFile, marker)
	}
	for _, tt := range []struct {
		first int
		want  bool
	}{{3, true}, {0, false}, {2, false}} {
		c := part
		c.FirstClass = tt.first
		if got := Complete(pd, c); got != tt.want {
			t.Errorf("Complete with first class %d: %v, want %v", tt.first, got, tt.want)
		}
	}
}

// TestDefaultFilesUnchanged pins a small default-range benchmark to the files it had before
// Config.FirstClass existed, so that benchmarks already on disk (and the runs trained on them) stay
// valid: the marker's hash must match for Complete to accept them, and regenerating must give the
// same images. The index files are pure integer work and hold on every platform; the image bytes and
// the float-derived boxes were recorded on linux/amd64 (go1.26) and are compared there.
func TestDefaultFilesUnchanged(t *testing.T) {
	cfg := Config{Classes: 3, PerClass: 3, Size: 32, Difficulty: 0.5, TrainFraction: 0.5, Seed: 1, Workers: 1}
	got := tree(t, generate(t, cfg))
	for _, tt := range []struct{ file, sum string }{
		{MarkerFile, "4bb74a44c3a373d2678aabddbfdbe3315f775c60b11f08a9e57a38733c7e8561"},
		{"classes.txt", "f2b556ea96ed56028d038331d9663215c0c042d0d1d08aa4c3d7badbd673cc3e"},
		{"images.txt", "4121267bc198035c7c7886fec2a18b3fe7f4433e0025299d5e69f42e10e97c85"},
		{"image_class_labels.txt", "8b570f0c0d2f6923fb1f87c9a89e0fdb39bd712f14d5b91107b0f4c36b6cb0f8"},
		{"train_test_split.txt", "e4165b257dec3c12495bd2077b6fb56c0426dfb38dff004bf41b5088dcad8aad"},
		{"attributes/species.txt", "7cfb8a688b3ff2d8537dae4eca3cfadc66244272a3a8252e2661d76bb7494173"},
		{"parts/parts.txt", "6904e774fb17b5602ad24e97db00cb27dbc4eb874afc7cc24a83cc26be4d881f"},
	} {
		sum := got[filepath.FromSlash(tt.file)]
		if fmt.Sprintf("%x", sum) != tt.sum {
			t.Errorf("%s: sha256 %x, want %s", tt.file, sum, tt.sum)
		}
	}
	if runtime.GOARCH != "amd64" {
		return
	}
	var paths []string
	for p := range got {
		paths = append(paths, filepath.ToSlash(p))
	}
	slices.Sort(paths)
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s %x\n", p, got[filepath.FromSlash(p)])
	}
	if sum, want := fmt.Sprintf("%x", h.Sum(nil)), "2fea018b26485ca0e65471ffa591c34f4f5d7c783814a7e60f18e3be752121da"; sum != want {
		t.Errorf("the %d files hash to %s, want %s: the generator no longer draws the default benchmark as before", len(got), sum, want)
	}
}

package datasets

import (
	"fmt"
	"slices"
	"testing"

	"github.com/finegrain/finegrain/pipeline"
)

func TestFolderSplitDirs(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"train/b_cat/1.jpg", "train/b_cat/sub/2.JPEG", "train/a_dog/3.png", "test/a_dog/4.jpg", "test/c_owl/5.jpg", "train/c_owl/6.jpg"} {
		writeJPEG(t, root, p, 50)
	}
	writeFile(t, root, "train/b_cat/notes.txt", "not an image")
	writeFile(t, root, "train/b_cat/.hidden.jpg", "hidden")
	writeFile(t, root, "train/.cache/x.jpg", "hidden dir")
	idx, err := Open("folder", root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a_dog", "b_cat", "c_owl"}; !slices.Equal(idx.Classes, want) {
		t.Errorf("classes %q, want %q", idx.Classes, want)
	}
	if got, want := labelsOf(idx.Train), []string{"3.png:0", "1.jpg:1", "2.JPEG:1", "6.jpg:2"}; !slices.Equal(got, want) {
		t.Errorf("train %q, want %q", got, want)
	}
	if got, want := labelsOf(idx.Test), []string{"4.jpg:0", "5.jpg:2"}; !slices.Equal(got, want) {
		t.Errorf("test %q, want %q", got, want)
	}
	checkIndex(t, idx)
}

func TestFolderNoSplit(t *testing.T) {
	root := t.TempDir()
	for c, n := range map[string]int{"x": 10, "y": 5, "train": 4} { // a class may be called train
		for i := range n {
			writeJPEG(t, root, fmt.Sprintf("%s/%02d.jpg", c, i), 1)
		}
	}
	idx, err := Open("folder", root)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Train) != 19 || len(idx.Test) != 0 || !slices.Equal(idx.Classes, []string{"train", "x", "y"}) {
		t.Fatalf("%d train, %d test, classes %q; want 19, 0, [train x y]", len(idx.Train), len(idx.Test), idx.Classes)
	}
	a, err := Open("folder", root, TestSplit(0.2, 7))
	if err != nil {
		t.Fatal(err)
	}
	count := map[int]int{}
	for _, r := range a.Test {
		count[r.Label]++
	}
	if len(a.Train)+len(a.Test) != 19 || count[0] != 1 || count[1] != 2 || count[2] != 1 {
		t.Errorf("TestSplit(0.2): %d train, test per class %v; want 15 train and 1, 2, 1", len(a.Train), count)
	}
	b, _ := Open("folder", root, TestSplit(0.2, 7))
	if !slices.Equal(labelsOf(a.Test), labelsOf(b.Test)) {
		t.Error("TestSplit is not deterministic")
	}

	// A lone train/ folder is a training split.
	root = t.TempDir()
	writeJPEG(t, root, "train/k/1.jpg", 1)
	writeJPEG(t, root, "train/l/1.jpg", 1)
	idx, err = Open("folder", root)
	if err != nil || !slices.Equal(idx.Classes, []string{"k", "l"}) {
		t.Errorf("train-only: %v, %v", idx, err)
	}
}

func TestFolderErrors(t *testing.T) {
	root := t.TempDir()
	_, err := Open("folder", root)
	wantErr(t, err, root, "folder: ROOT: no class folders")
	writeJPEG(t, root, "a/1.jpg", 1)
	writeFile(t, root, "b/readme.txt", "")
	_, err = Open("folder", root)
	wantErr(t, err, root, `folder: ROOT: class 2 ("b") has no training images`)
}

func TestSplitValidation(t *testing.T) {
	var recs []pipeline.Record
	for i := range 100 {
		recs = append(recs, pipeline.Record{Path: fmt.Sprint(i), Label: i % 4 * (i % 3)}) // uneven classes
	}
	recs = append(recs, pipeline.Record{Path: "single", Label: 9})
	per := map[int]int{}
	for _, r := range recs {
		per[r.Label]++
	}
	train, val, err := SplitValidation(recs, 0.25, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(train)+len(val) != len(recs) {
		t.Fatalf("%d + %d records, want %d", len(train), len(val), len(recs))
	}
	vper := map[int]int{}
	for _, r := range val {
		vper[r.Label]++
	}
	for label, n := range per {
		want := min(int(float64(n)*0.25+0.5), n-1)
		if vper[label] != want {
			t.Errorf("class %d: %d of %d in validation, want %d", label, vper[label], n, want)
		}
	}
	isSorted := func(rs []pipeline.Record) bool {
		return slices.IsSortedFunc(rs, func(a, b pipeline.Record) int {
			var x, y int
			fmt.Sscan(a.Path, &x)
			fmt.Sscan(b.Path, &y)
			return x - y
		})
	}
	if !isSorted(train[:len(train)-1]) || !isSorted(val) {
		t.Error("splits do not keep the input order")
	}
	_, val2, _ := SplitValidation(recs, 0.25, 1)
	_, val3, _ := SplitValidation(recs, 0.25, 2)
	if !slices.Equal(labelsOf(val), labelsOf(val2)) {
		t.Error("same seed, different split")
	}
	if slices.Equal(labelsOf(val), labelsOf(val3)) {
		t.Error("different seeds, same split")
	}
	if _, v, _ := SplitValidation(recs, 0, 1); len(v) != 0 {
		t.Errorf("fraction 0 gave %d validation records", len(v))
	}
	for _, bad := range []float64{-0.1, 1, 2} {
		if _, _, err := SplitValidation(recs, bad, 1); err == nil {
			t.Errorf("fraction %v accepted", bad)
		}
	}
}

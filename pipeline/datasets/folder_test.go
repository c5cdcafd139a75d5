package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
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

// TestFolderNoSplit: class folders without train/ and test/ (a flat ImageFolder) give no test
// split by themselves, which Open refuses with a message naming both fixes; TestSplit carves a
// seeded, stratified one. Before, Open accepted the dataset and training failed at its end.
func TestFolderNoSplit(t *testing.T) {
	root := t.TempDir()
	for c, n := range map[string]int{"x": 10, "y": 5, "train": 4} { // a class may be called train
		for i := range n {
			writeJPEG(t, root, fmt.Sprintf("%s/%02d.jpg", c, i), 1)
		}
	}
	_, err := Open("folder", root)
	if !errors.Is(err, ErrNoTestImages) {
		t.Fatalf("error %v, want ErrNoTestImages", err)
	}
	wantErr(t, err, root, "folder: ROOT: no test images: ROOT has no test/ folder; set data.test_fraction (for example 0.2) to hold out a seeded, stratified test split")
	wantErr(t, err, root, "or move the images into ROOT/train/<class>/ and ROOT/test/<class>/")
	a, err := Open("folder", root, TestSplit(0.2, 7))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Classes, []string{"train", "x", "y"}) {
		t.Errorf("classes %q, want [train x y]", a.Classes)
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
	c, _ := Open("folder", root, TestSplit(0.2, 8))
	if slices.Equal(labelsOf(a.Test), labelsOf(c.Test)) {
		t.Error("TestSplit(0.2, 8) chose the test images of seed 7")
	}

	// A lone train/ folder is a training split: it too needs TestSplit.
	root = t.TempDir()
	for _, p := range []string{"train/k/1.jpg", "train/k/2.jpg", "train/l/1.jpg", "train/l/2.jpg"} {
		writeJPEG(t, root, p, 1)
	}
	if _, err := Open("folder", root); !errors.Is(err, ErrNoTestImages) {
		t.Errorf("train-only without TestSplit: %v, want ErrNoTestImages", err)
	}
	idx, err := Open("folder", root, TestSplit(0.5, 1))
	if err != nil || !slices.Equal(idx.Classes, []string{"k", "l"}) || len(idx.Test) != 2 {
		t.Errorf("train-only with TestSplit(0.5): %v, %v", idx, err)
	}

	// An empty test/ folder: the message says so.
	os.MkdirAll(filepath.Join(root, "test", "k"), 0o755)
	_, err = Open("folder", root)
	wantErr(t, err, root, "ROOT/test holds no images; put each class's test images in ROOT/test/<class>/")
}

// TestTestSplitRefused: a test fraction for a dataset that has its own test split is an error, not
// silently ignored.
func TestTestSplitRefused(t *testing.T) {
	split := t.TempDir()
	writeJPEG(t, split, "train/a/1.jpg", 1)
	writeJPEG(t, split, "test/a/2.jpg", 1)
	cub := t.TempDir()
	writeCUB(t, cub, cubFiles())
	for _, tt := range []struct{ format, root string }{{"folder", split}, {"cub", cub}} {
		_, err := Open(tt.format, tt.root, TestSplit(0.25, 1))
		wantErr(t, err, tt.root, tt.format+": ROOT: a test fraction of 0.25 applies only to class folders without a test/ folder")
		if _, err := Open(tt.format, tt.root, TestSplit(0, 1)); err != nil {
			t.Errorf("%s with fraction 0: %v", tt.format, err)
		}
	}
	for _, f := range []float64{-0.1, 1, math.NaN()} {
		if _, err := Open("folder", split, TestSplit(f, 1)); err == nil || !strings.Contains(err.Error(), "is not in [0, 1)") {
			t.Errorf("TestSplit(%v): %v", f, err)
		}
	}
}

// TestFolderLeftOut builds a class-folder dataset with everything the folder format may meet and
// checks what it takes, what it leaves out (each with its reason, in Index.Skipped), and that the
// log names every left-out file once, in one line per reason. Before, symbolic links to class
// folders, folders starting with "_" and files of other formats vanished without a word.
func TestFolderLeftOut(t *testing.T) {
	root := t.TempDir()
	elsewhere := t.TempDir()
	for _, p := range []string{
		"train/a/1.jpg", "train/a/_MG_2.JPG", "train/a/sub/3.png", "train/a/4.webp", "train/a/5.bmp", "train/a/6.gif",
		"train/b/1.jpg", "test/a/1.jpg", "test/b/1.jpg",
		"train/_trash/1.jpg", "train/.ipynb_checkpoints/1.jpg", "train/a/_old/9.jpg", "val/a/1.jpg",
	} {
		writeJPEG(t, root, p, 1)
	}
	writeJPEG(t, elsewhere, "c/1.jpg", 1)
	writeJPEG(t, elsewhere, "c/deep/2.jpg", 1)
	writeJPEG(t, elsewhere, "shared.jpg", 1)
	writeFile(t, root, "train/a/scan.tiff", "II*\x00")
	writeFile(t, root, "train/a/notes.txt", "notes")
	writeFile(t, root, "train/a/.DS_Store", "x")
	writeFile(t, root, "train/a/._1.jpg", "AppleDouble")
	writeFile(t, root, "train/a/empty.jpg", "")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(syscall.Mkfifo(filepath.Join(root, "train/b/pipe.jpg"), 0o644))
	must(os.Symlink(filepath.Join(elsewhere, "c"), filepath.Join(root, "train/c")))                // a class folder
	must(os.Symlink(filepath.Join(elsewhere, "c"), filepath.Join(root, "test/c")))                 // and its test images
	must(os.Symlink(filepath.Join(elsewhere, "shared.jpg"), filepath.Join(root, "train/b/2.jpg"))) // an image
	must(os.Symlink(filepath.Join(root, "gone.jpg"), filepath.Join(root, "train/b/3.jpg")))        // broken
	must(os.Symlink("..", filepath.Join(root, "train/a/sub/loop")))                                // a loop

	var log bytes.Buffer
	idx, err := Open("folder", root, WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(idx.Classes, want) {
		t.Errorf("classes %q, want %q", idx.Classes, want)
	}
	wantTrain := []string{"1.jpg:0", "4.webp:0", "5.bmp:0", "6.gif:0", "_MG_2.JPG:0", "3.png:0", "1.jpg:1", "2.jpg:1", "1.jpg:2", "2.jpg:2"}
	if got := labelsOf(idx.Train); !slices.Equal(got, wantTrain) {
		t.Errorf("train %q\nwant  %q", got, wantTrain)
	}
	if got, want := labelsOf(idx.Test), []string{"1.jpg:0", "1.jpg:1", "1.jpg:2", "2.jpg:2"}; !slices.Equal(got, want) {
		t.Errorf("test %q, want %q", got, want)
	}
	wantLeft := map[string]string{
		"train/_trash":             reasonUnderscore,
		"train/a/_old":             reasonUnderscore,
		"train/.ipynb_checkpoints": reasonHidden,
		"train/a/.DS_Store":        reasonHidden,
		"train/a/._1.jpg":          reasonHidden,
		"train/a/scan.tiff":        reasonFormat,
		"train/a/notes.txt":        reasonFormat,
		"train/a/empty.jpg":        reasonEmpty,
		"train/b/pipe.jpg":         "not a regular file: named pipe",
		"train/b/3.jpg":            reasonBroken,
		"train/a/sub/loop":         reasonLoop,
		"val":                      reasonNotSplit,
	}
	got := map[string]string{}
	for _, l := range idx.Skipped {
		rel, _ := filepath.Rel(root, l.Path)
		if prev, dup := got[rel]; dup {
			t.Errorf("%s left out twice (%s; %s)", rel, prev, l.Reason)
		}
		got[rel] = l.Reason
	}
	for rel, reason := range wantLeft {
		if got[rel] != reason {
			t.Errorf("%s: left out for %q, want %q", rel, got[rel], reason)
		}
	}
	for rel, reason := range got {
		if _, ok := wantLeft[rel]; !ok {
			t.Errorf("%s left out (%s), want it taken", rel, reason)
		}
	}
	out := log.String()
	for rel := range wantLeft {
		if n := strings.Count(out, rel+","); n+strings.Count(out, rel+" (") != 1 {
			t.Errorf("the log names %s %d times, want once:\n%s", rel, n, out)
		}
	}
	for _, want := range []string{
		"skipped 2 files: train/a/notes.txt, train/a/scan.tiff (unsupported format; supported: .jpg, .jpeg, .png, .gif, .bmp, .webp)",
		"skipped 2 folders: train/_trash, train/a/_old (folder name starts with",
		"followed 3 symbolic links: train/c -> " + filepath.Join(elsewhere, "c"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 9 {
		t.Errorf("%d log lines, want 9 (8 reasons and the links):\n%s", n, out)
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

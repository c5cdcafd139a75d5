package datasets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/finegrain/finegrain/pipeline"
)

func TestCUB(t *testing.T) {
	for _, format := range []string{"cub", "synthetic"} {
		root := t.TempDir()
		writeCUB(t, root, cubFiles())
		idx, err := Open(format, root)
		if err != nil {
			t.Fatal(err)
		}
		if idx.Format != format || idx.Root != root {
			t.Errorf("format %q root %q", idx.Format, idx.Root)
		}
		if want := []string{"Black_footed_Albatross", "Laysan_Albatross", "Sooty_Albatross"}; !slices.Equal(idx.Classes, want) {
			t.Errorf("classes %q, want %q", idx.Classes, want)
		}
		if got, want := labelsOf(idx.Train), []string{"a_1.jpg:0", "b_1.jpg:1", "c_1.jpg:2"}; !slices.Equal(got, want) {
			t.Errorf("train %q, want %q", got, want)
		}
		if got, want := labelsOf(idx.Test), []string{"a_2.jpg:0", "b_2.jpg:1", "c_2.jpg:2", "c_3.jpg:2"}; !slices.Equal(got, want) {
			t.Errorf("test %q, want %q", got, want)
		}
		if b := idx.Train[0].BBox; b == nil || *b != (pipeline.Box{X1: 1, Y1: 2, X2: 4, Y2: 6}) {
			t.Errorf("box of image 1 = %v, want {1 2 4 6}", b)
		}
		if b := idx.Test[3].BBox; b == nil || *b != (pipeline.Box{X1: 2.5, Y1: 1, X2: 8, Y2: 4}) {
			t.Errorf("box of image 7 = %v, want {2.5 1 8 4}", b)
		}
		want := filepath.Join(root, "images", "001.Black_footed_Albatross", "a_1.jpg")
		if idx.Train[0].Path != want {
			t.Errorf("path %q, want %q", idx.Train[0].Path, want)
		}
		if _, err := os.Stat(idx.Train[0].Path); err != nil {
			t.Error(err)
		}
	}

	// Without bounding_boxes.txt records have no box.
	files := cubFiles()
	delete(files, "bounding_boxes.txt")
	root := t.TempDir()
	writeCUB(t, root, files)
	idx, err := Open("cub", root)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range append(idx.Train, idx.Test...) {
		if r.BBox != nil {
			t.Fatalf("%s has a box without bounding_boxes.txt", r.Path)
		}
	}
}

func TestCUBMalformed(t *testing.T) {
	tests := []struct {
		name   string
		file   string // file to replace ("" deletes del)
		text   string
		del    string // file or image to delete
		want   string
		option Option
	}{
		{name: "missing images.txt", del: "images.txt", want: "cub: missing ROOT/images.txt"},
		{name: "missing classes.txt", del: "classes.txt", want: "cub: missing ROOT/classes.txt"},
		{name: "malformed line", file: "images.txt", text: "1 001.Black_footed_Albatross/a_1.jpg\nx2 y\n", want: `cub: ROOT/images.txt:2: want "<id> <image path>" with a positive id, got "x2 y"`},
		{name: "no path", file: "images.txt", text: "1\n", want: `ROOT/images.txt:1: want "<id> <image path>"`},
		{name: "zero id", file: "images.txt", text: "0 a.jpg\n", want: "ROOT/images.txt:1: want"},
		{name: "duplicate id", file: "image_class_labels.txt", text: "1 1\n2 1\n3 2\n4 2\n5 3\n6 3\n7 3\n\n2 2\n", want: "ROOT/image_class_labels.txt:9: id 2 repeats line 2"},
		{name: "class out of range", file: "image_class_labels.txt", text: "1 1\n2 1\n3 4\n4 2\n5 3\n6 3\n7 3\n", want: `ROOT/image_class_labels.txt:3: class id "4" is not in 1..3 (classes.txt)`},
		{name: "class not a number", file: "image_class_labels.txt", text: "1 1\n2 1\n3 two\n4 2\n5 3\n6 3\n7 3\n", want: `ROOT/image_class_labels.txt:3: class id "two"`},
		{name: "image without label", file: "image_class_labels.txt", text: "1 1\n2 1\n4 2\n5 3\n6 3\n7 3\n", want: "ROOT/images.txt:3: image id 3 is not in ROOT/image_class_labels.txt"},
		{name: "label for unknown image", file: "image_class_labels.txt", text: "1 1\n2 1\n3 2\n4 2\n5 3\n6 3\n7 3\n8 1\n", want: "ROOT/image_class_labels.txt:8: image id 8 is not in ROOT/images.txt"},
		{name: "bad is_train", file: "train_test_split.txt", text: "1 1\n2 0\n3 2\n4 0\n5 1\n6 0\n7 0\n", want: `ROOT/train_test_split.txt:3: is_train is "2", want 0 or 1`},
		{name: "class id beyond count", file: "classes.txt", text: "1 a\n2 b\n5 c\n", want: "ROOT/classes.txt:3: class id 5 is out of range: 3 classes are listed"},
		{name: "class without training images", file: "train_test_split.txt", text: "1 1\n2 0\n3 0\n4 0\n5 1\n6 0\n7 0\n", want: `class 2 ("Laysan_Albatross") has no training images`},
		{name: "box fields", file: "bounding_boxes.txt", text: "1 1 2 3\n", want: `ROOT/bounding_boxes.txt:1: want "<x> <y> <width> <height>", got "1 2 3"`},
		{name: "box not number", file: "bounding_boxes.txt", text: "1 1 2 3 NaN\n", want: `ROOT/bounding_boxes.txt:1: box value "NaN" is not a number`},
		{name: "box empty", file: "bounding_boxes.txt", text: "1 1 2 0 4\n", want: "needs x, y >= 0 and width, height > 0"},
		{name: "image without box", file: "bounding_boxes.txt", text: "1 1 2 3 4\n", want: "ROOT/images.txt:2: image id 2 is not in ROOT/bounding_boxes.txt"},
		{name: "path leaves root", file: "images.txt", text: strings.Replace(cubFiles()["images.txt"], "001.Black_footed_Albatross/a_1.jpg", "../../etc/passwd", 1), want: `ROOT/images.txt:1: path "../../etc/passwd" is not inside the dataset`},
		{name: "missing image", del: "images/002.Laysan_Albatross/b_2.jpg", want: "ROOT/images.txt:4: image ROOT/images/002.Laysan_Albatross/b_2.jpg does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			files := cubFiles()
			if tt.file != "" {
				files[tt.file] = tt.text
			}
			writeCUB(t, root, files)
			if tt.del != "" {
				if err := os.Remove(filepath.Join(root, tt.del)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Open("cub", root)
			wantErr(t, err, root, strings.ReplaceAll(tt.want, "/", string(filepath.Separator)))
		})
	}
}

func TestOpenErrors(t *testing.T) {
	root := t.TempDir()
	_, err := Open("cub", filepath.Join(root, "nope"))
	wantErr(t, err, root, "cub: dataset root: stat ROOT/nope: no such file or directory")
	writeFile(t, root, "file", "x")
	_, err = Open("cub", filepath.Join(root, "file"))
	wantErr(t, err, root, "cub: dataset root ROOT/file is not a directory")
	_, err = Open("imagenet", root)
	wantErr(t, err, root, `unknown dataset format "imagenet" (want one of cub, dogs, cars, folder, synthetic)`)
	_, err = Open("folder", root, TestSplit(1, 0))
	wantErr(t, err, root, "test fraction 1 is not in [0, 1)")
}

func TestSkipMissing(t *testing.T) {
	root := t.TempDir()
	writeCUB(t, root, cubFiles())
	for _, p := range []string{"images/002.Laysan_Albatross/b_2.jpg", "images/003.Sooty_Albatross/c_3.jpg"} {
		if err := os.Remove(filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	skipped := -1
	idx, err := Open("cub", root, SkipMissing(&skipped))
	if err != nil {
		t.Fatal(err)
	}
	if skipped != 2 || len(idx.Train) != 3 || len(idx.Test) != 2 {
		t.Errorf("skipped %d, %d train, %d test; want 2, 3, 2", skipped, len(idx.Train), len(idx.Test))
	}
	// NoImageCheck keeps them.
	idx, err = Open("cub", root, NoImageCheck())
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Test) != 4 {
		t.Errorf("NoImageCheck: %d test records, want 4", len(idx.Test))
	}
}

// FuzzCUB feeds arbitrary annotation files to the CUB reader: it must return an index or an error,
// and an index must be consistent.
func FuzzCUB(f *testing.F) {
	c := cubFiles()
	f.Add([]byte(c["images.txt"]), []byte(c["image_class_labels.txt"]), []byte(c["train_test_split.txt"]), []byte(c["classes.txt"]), []byte(c["bounding_boxes.txt"]))
	f.Add([]byte("1 a/b.jpg\n2 ../x"), []byte("1 1\n2 1"), []byte("1 1\n2 0"), []byte("1 x"), []byte("1 0 0 1e308 1e308\n"))
	f.Fuzz(func(t *testing.T, images, labels, split, classes, boxes []byte) {
		fsys := fstest.MapFS{
			"images.txt":             {Data: images},
			"image_class_labels.txt": {Data: labels},
			"train_test_split.txt":   {Data: split},
			"classes.txt":            {Data: classes},
			"bounding_boxes.txt":     {Data: boxes},
		}
		idx, err := open(fsys, "cub", "root", options{noCheck: true})
		if err != nil {
			return
		}
		checkIndex(t, idx)
	})
}

// checkIndex checks what every index must satisfy.
func checkIndex(t *testing.T, idx *pipeline.Index) {
	t.Helper()
	if len(idx.Train) == 0 || len(idx.Classes) == 0 {
		t.Fatalf("index with %d training records and %d classes", len(idx.Train), len(idx.Classes))
	}
	for _, r := range append(idx.Train, idx.Test...) {
		if r.Label < 0 || r.Label >= len(idx.Classes) {
			t.Fatalf("%s: label %d of %d classes", r.Path, r.Label, len(idx.Classes))
		}
		if rel, err := filepath.Rel(idx.Root, r.Path); err != nil || !filepath.IsLocal(rel) {
			t.Fatalf("path %q outside root %q", r.Path, idx.Root)
		}
		if b := r.BBox; b != nil && !(b.X1 >= 0 && b.Y1 >= 0 && b.X2 >= b.X1 && b.Y2 >= b.Y1) {
			t.Fatalf("%s: box %v", r.Path, *b)
		}
	}
}

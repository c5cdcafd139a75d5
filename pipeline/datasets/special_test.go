package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finegrain/finegrain/pipeline/safefile"
)

// TestAnnotationSpecialFiles: an annotation file or a listed image that is a named pipe, a device or
// a directory is refused at once with an error naming it; before, a pipe blocked Open forever (an
// open(2) waiting for a writer) and /dev/zero was read until memory ran out.
func TestAnnotationSpecialFiles(t *testing.T) {
	mkfifo := func(t *testing.T, p string) {
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(t *testing.T, target, p string) {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	replace := func(t *testing.T, p string, make func(t *testing.T, p string)) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
		make(t, p)
	}
	tests := []struct {
		name   string
		format string
		make   func(t *testing.T, root string)
		want   string // with ROOT for the root
	}{
		{"cub images.txt is a named pipe", "cub", func(t *testing.T, r string) {
			replace(t, filepath.Join(r, "images.txt"), mkfifo)
		}, "cub: ROOT/images.txt: not a regular file (named pipe)"},
		{"cub classes.txt is /dev/zero", "cub", func(t *testing.T, r string) {
			replace(t, filepath.Join(r, "classes.txt"), func(t *testing.T, p string) { link(t, "/dev/zero", p) })
		}, "cub: ROOT/classes.txt: not a regular file (character device)"},
		{"cub bounding_boxes.txt is a directory", "cub", func(t *testing.T, r string) {
			replace(t, filepath.Join(r, "bounding_boxes.txt"), func(t *testing.T, p string) { os.Mkdir(p, 0o755) })
		}, "cub: ROOT/bounding_boxes.txt: not a regular file (directory)"},
		{"cub image is a named pipe", "cub", func(t *testing.T, r string) {
			replace(t, filepath.Join(r, "images/002.Laysan_Albatross/b_1.jpg"), mkfifo)
		}, "cub: ROOT/images.txt:3: image ROOT/images/002.Laysan_Albatross/b_1.jpg is not a regular file (named pipe)"},
		{"cub image is a directory", "cub", func(t *testing.T, r string) {
			replace(t, filepath.Join(r, "images/001.Black_footed_Albatross/a_1.jpg"), func(t *testing.T, p string) { os.Mkdir(p, 0o755) })
		}, "image ROOT/images/001.Black_footed_Albatross/a_1.jpg is not a regular file (directory)"},
		{"dogs list is a named pipe", "dogs", func(t *testing.T, r string) {
			replace(t, filepath.Join(r, "lists/train_list.mat"), mkfifo)
		}, "dogs: ROOT/lists/train_list.mat: not a regular file (named pipe)"},
		{"cars CSV is /dev/zero", "cars", func(t *testing.T, r string) {
			replace(t, filepath.Join(r, "annotations.csv"), func(t *testing.T, p string) { link(t, "/dev/zero", p) })
		}, "cars: ROOT/annotations.csv: not a regular file (character device)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.format == "cub" {
				writeCUB(t, root, cubFiles())
			}
			tt.make(t, root)
			done := make(chan error, 1)
			go func() { _, err := Open(tt.format, root); done <- err }()
			select {
			case err := <-done:
				wantErr(t, err, root, tt.want)
				if !errors.Is(err, safefile.ErrNotRegular) && !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("error %v does not say the file is not regular", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Open still blocked after 20 s")
			}
		})
	}
}

// TestNoTestImagesCUB: a CUB split file marking every image for training is refused at Open, saying
// which file to fix.
func TestNoTestImagesCUB(t *testing.T) {
	root := t.TempDir()
	files := cubFiles()
	files["train_test_split.txt"] = "1 1\n2 1\n3 1\n4 1\n5 1\n6 1\n7 1\n"
	writeCUB(t, root, files)
	_, err := Open("cub", root)
	if !errors.Is(err, ErrNoTestImages) {
		t.Fatalf("error %v, want ErrNoTestImages", err)
	}
	wantErr(t, err, root, "cub: ROOT: no test images: every image of ROOT/train_test_split.txt is marked 1 (training); mark the test images 0")
}

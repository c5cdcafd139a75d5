package datasets

import (
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/pipeline"
)

// writeFile writes content to root/rel, creating folders.
func writeFile(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeJPEG writes a tiny JPEG of one colour at root/rel.
func writeJPEG(t *testing.T, root, rel string, shade uint8) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for i := range img.Pix {
		img.Pix[i] = shade
	}
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := jpeg.Encode(f, img, nil); err != nil {
		t.Fatal(err)
	}
}

// cubFiles is a tiny CUB-200-2011: 3 classes, 7 images, one class with two test images.
func cubFiles() map[string]string {
	return map[string]string{
		"classes.txt": "1 001.Black_footed_Albatross\n2 002.Laysan_Albatross\n3 003.Sooty_Albatross\n",
		"images.txt": "1 001.Black_footed_Albatross/a_1.jpg\n2 001.Black_footed_Albatross/a_2.jpg\n" +
			"3 002.Laysan_Albatross/b_1.jpg\n4 002.Laysan_Albatross/b_2.jpg\n\n" +
			"5 003.Sooty_Albatross/c_1.jpg\n6 003.Sooty_Albatross/c_2.jpg\n7 003.Sooty_Albatross/c_3.jpg\n",
		"image_class_labels.txt": "1 1\n2 1\n3 2\n4 2\n5 3\n6 3\n7 3\n",
		"train_test_split.txt":   "1 1\n2 0\n3 1\n4 0\n5 1\n6 0\n7 0\n",
		"bounding_boxes.txt":     "1 1.0 2.0 3.0 4.0\n2 0 0 8 6\n3 1 1 2 2\n4 1 1 2 2\n5 1 1 2 2\n6 1 1 2 2\n7 2.5 1 5.5 3\n",
	}
}

// writeCUB writes files (CUB text files by name) and a JPEG for every image of images.txt.
func writeCUB(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		writeFile(t, root, name, content)
	}
	for _, l := range strings.Split(cubFiles()["images.txt"], "\n") {
		if _, p, ok := strings.Cut(l, " "); ok {
			writeJPEG(t, root, "images/"+p, 100)
		}
	}
}

// summary is what a test checks of an index: class names, and per split "label:file" entries.
func labelsOf(rs []pipeline.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, strings.Join([]string{filepath.Base(r.Path), string(rune('0' + r.Label))}, ":"))
	}
	return out
}

// wantErr fails unless err contains want (with ROOT replaced by root).
func wantErr(t *testing.T, err error, root, want string) {
	t.Helper()
	want = strings.ReplaceAll(want, "ROOT", root)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v\nwant one containing %q", err, want)
	}
}

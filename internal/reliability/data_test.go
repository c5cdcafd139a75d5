package reliability

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cubCopy copies the tiny dataset (CUB layout) to a new directory.
func cubCopy(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cub")
	copyTree(t, dataset(t), dir)
	return dir
}

// cubImages returns the dataset's image paths (relative to images/) by split, in images.txt order.
func cubImages(t *testing.T, root string) (train, test []string) {
	t.Helper()
	paths := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(mustRead(t, filepath.Join(root, "images.txt")))), "\n") {
		id, p, _ := strings.Cut(l, " ")
		paths[id] = p
	}
	for _, l := range strings.Split(strings.TrimSpace(string(mustRead(t, filepath.Join(root, "train_test_split.txt")))), "\n") {
		id, s, _ := strings.Cut(l, " ")
		if s == "1" {
			train = append(train, paths[id])
		} else {
			test = append(test, paths[id])
		}
	}
	return train, test
}

// replaceLine replaces line n (1-based) of a dataset text file.
func replaceLine(t *testing.T, file string, n int, text string) {
	t.Helper()
	lines := strings.Split(string(mustRead(t, file)), "\n")
	lines[n-1] = text
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pngBomb is a PNG whose header declares w×h pixels, with no pixel data.
func pngBomb(t testing.TB, w, h uint32) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	// signature (8) | length (4) "IHDR" (4) width height ... | CRC (4)
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data[:33]
}

// jpegBomb is a JPEG whose frame header (SOF0) declares w×h pixels.
func jpegBomb(t *testing.T, jpeg []byte, w, h uint16) []byte {
	t.Helper()
	out := bytes.Clone(jpeg)
	i := bytes.Index(out, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	binary.BigEndian.PutUint16(out[i+5:], h)
	binary.BigEndian.PutUint16(out[i+7:], w)
	return out
}

func pngImage(t testing.TB, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	m.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestBadImages trains an epoch on a copy of the dataset in which images of every split are broken in
// the ways real collections are: the run must finish, and name each unusable file and why. A GIF
// whose frames together pass the pixel limit and a file past the size limit are among them; before,
// the GIF's first frame was used as if the rest did not exist and the huge file was read whole.
func TestBadImages(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	bin := command(t, "train")
	root := cubCopy(t)
	trainSet, testSet := cubImages(t, root)
	good := mustRead(t, filepath.Join(root, "images", trainSet[0]))
	garbage := bytes.Clone(good)
	for i := len(garbage) / 3; i < len(garbage); i++ {
		garbage[i] = byte(i * 131)
	}
	pngData := pngImage(t, 40, 30)
	bad := []struct {
		name   string
		data   []byte
		reason string // in the warning; "" when decoding may succeed
		make   func(path string) error
	}{
		{"zero bytes", nil, "empty file", nil},
		{"truncated JPEG", good[:len(good)/2], "unexpected EOF", nil},
		{"JPEG headers only", good[:200], "read header:", nil},
		{"text named .jpg", []byte("<html><body>404 Not Found</body></html>\n"), "unknown format", nil},
		{"truncated PNG", pngData[:len(pngData)/2], "decode png:", nil},
		{"PNG declaring 100000×100000 pixels", pngBomb(t, 100000, 100000), "image exceeds the pixel limit", nil},
		{"JPEG declaring 60000×60000 pixels", jpegBomb(t, good, 60000, 60000), "image exceeds the pixel limit", nil},
		{"corrupt JPEG entropy data", garbage, "", nil},
		{"GIF of 100 frames of 1000×1000 (counted against the pixel limit)", manyFrameGIF(t, 1000, 1000, 100), "image exceeds the pixel limit", nil},
		{"file past the 512 MiB limit (sparse)", nil, "file too large", func(p string) error { return os.Truncate(p, 512<<20+1) }},
		{"test: zero bytes", nil, "empty file", nil},
		{"test: truncated JPEG", good[:len(good)/3], "unexpected EOF", nil},
	}
	var paths []string
	ti := 0
	for i, b := range bad {
		// From the end of the list: with log.cam_images 2 the run draws its class activation maps
		// from the first validation images, and a run whose maps have no usable image fails (a
		// separate problem of package train).
		rel := trainSet[len(trainSet)-1-i]
		if strings.HasPrefix(b.name, "test:") {
			rel = testSet[ti]
			ti++
		}
		p := filepath.Join(root, "images", rel)
		if err := os.WriteFile(p, b.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if b.make != nil {
			if err := b.make(p); err != nil {
				t.Fatal(err)
			}
		}
		paths = append(paths, p)
	}
	cfg := writeConfig(t, t.TempDir(), "bad.yaml", tinyConfig(root, 1))
	code, out := runWithin(t, 10*time.Minute, bin, []string{"-config", cfg, "-out", filepath.Join(t.TempDir(), "run"), "-set", "data.format=cub"})
	noPanic(t, out)
	if code != 0 {
		t.Fatalf("exit status %d, want 0 (bad images skipped)\n%s", code, out)
	}
	for i, b := range bad {
		if b.reason == "" {
			continue
		}
		found := false
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, paths[i]) && strings.Contains(line, b.reason) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no warning names %s with %q:\n%s", b.name, paths[i], b.reason, out)
		}
	}
	if !strings.Contains(out, "test (") {
		t.Errorf("the run did not reach its test evaluation:\n%s", out)
	}
	if testing.Verbose() {
		t.Logf("output:\n%s", out)
	}
}

// TestAllImagesBad: when no training image can be read, the run stops with an error that says so and
// names the first bad file.
func TestAllImagesBad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the training graph")
	}
	bin := command(t, "train")
	root := cubCopy(t)
	trainSet, _ := cubImages(t, root)
	for _, rel := range trainSet {
		if err := os.WriteFile(filepath.Join(root, "images", rel), []byte("not an image"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := writeConfig(t, t.TempDir(), "bad.yaml", tinyConfig(root, 1))
	code, out := runCmd(t, bin, []string{"-config", cfg, "-out", filepath.Join(t.TempDir(), "run"), "-set", "data.format=cub"}, childEnv())
	noPanic(t, out)
	t.Logf("exit status %d; output ends:\n%s", code, tail(out, 2))
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	for _, want := range []string{"images were bad", "bad image " + filepath.Join(root, "images"), "unknown format"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestBadDatasetFiles runs cmd/train on datasets whose annotation files are malformed, truncated or
// wrongly structured: each run must stop before training with a non-zero status and a message naming
// the file (and the line, for text files) and the problem.
func TestBadDatasetFiles(t *testing.T) {
	bin := command(t, "train")
	tmp := t.TempDir()
	repo := filepath.Join("..", "..")
	carsMeta := mustRead(t, filepath.Join(repo, "pipeline", "matfile", "testdata", "cars_meta.mat"))
	dogsTrain := mustRead(t, filepath.Join(repo, "pipeline", "datasets", "testdata", "dogs", "train_list.mat"))
	dogsTest := mustRead(t, filepath.Join(repo, "pipeline", "datasets", "testdata", "dogs", "test_list.mat"))
	write := func(root, name string, data []byte) {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cub := func(t *testing.T, change func(root string)) string {
		root := cubCopy(t)
		change(root)
		return root
	}
	cases := []struct {
		name   string
		format string
		make   func(t *testing.T) string // returns the dataset root
		want   []string                  // relative to the root: "{root}" is replaced by it
	}{
		{"cub: line without a path", "cub", func(t *testing.T) string {
			return cub(t, func(r string) { replaceLine(t, filepath.Join(r, "images.txt"), 3, "3") })
		}, []string{"cub: {root}/images.txt:3: want \"<id> <image path>\" with a positive id, got \"3\""}},
		{"cub: id not a number", "cub", func(t *testing.T) string {
			return cub(t, func(r string) {
				replaceLine(t, filepath.Join(r, "images.txt"), 2, "two 001.Red_barred_Finch/Red_barred_Finch_0002.jpg")
			})
		}, []string{"{root}/images.txt:2: want \"<id> <image path>\" with a positive id"}},
		{"cub: repeated id", "cub", func(t *testing.T) string {
			return cub(t, func(r string) {
				replaceLine(t, filepath.Join(r, "images.txt"), 4, "1 001.Red_barred_Finch/Red_barred_Finch_0004.jpg")
			})
		}, []string{"{root}/images.txt:4: id 1 repeats line 1"}},
		{"cub: class out of range", "cub", func(t *testing.T) string {
			return cub(t, func(r string) { replaceLine(t, filepath.Join(r, "image_class_labels.txt"), 5, "5 99") })
		}, []string{"{root}/image_class_labels.txt:5: class id \"99\" is not in 1..3 (classes.txt)"}},
		{"cub: split flag 2", "cub", func(t *testing.T) string {
			return cub(t, func(r string) { replaceLine(t, filepath.Join(r, "train_test_split.txt"), 6, "6 2") })
		}, []string{"{root}/train_test_split.txt:6: is_train is \"2\", want 0 or 1"}},
		{"cub: negative box", "cub", func(t *testing.T) string {
			return cub(t, func(r string) { replaceLine(t, filepath.Join(r, "bounding_boxes.txt"), 7, "7 1 2 -3 4") })
		}, []string{"{root}/bounding_boxes.txt:7: box \"1 2 -3 4\" needs x, y >= 0 and width, height > 0"}},
		{"cub: box with three numbers", "cub", func(t *testing.T) string {
			return cub(t, func(r string) { replaceLine(t, filepath.Join(r, "bounding_boxes.txt"), 8, "8 1 2 3") })
		}, []string{"{root}/bounding_boxes.txt:8: want \"<x> <y> <width> <height>\", got \"1 2 3\""}},
		{"cub: path leaving the dataset", "cub", func(t *testing.T) string {
			return cub(t, func(r string) { replaceLine(t, filepath.Join(r, "images.txt"), 9, "9 ../../../etc/passwd") })
		}, []string{"{root}/images.txt:9: path \"../../../etc/passwd\" is not inside the dataset"}},
		{"cub: listed image missing", "cub", func(t *testing.T) string {
			return cub(t, func(r string) { replaceLine(t, filepath.Join(r, "images.txt"), 10, "10 001.Red_barred_Finch/gone.jpg") })
		}, []string{"{root}/images.txt:10: image {root}/images/001.Red_barred_Finch/gone.jpg does not exist"}},
		{"cub: label of an unknown image", "cub", func(t *testing.T) string {
			return cub(t, func(r string) {
				f, _ := os.OpenFile(filepath.Join(r, "image_class_labels.txt"), os.O_APPEND|os.O_WRONLY, 0)
				fmt.Fprintln(f, "999 1")
				f.Close()
			})
		}, []string{"image_class_labels.txt:61: image id 999 is not in {root}/images.txt"}},
		{"cub: missing images.txt", "cub", func(t *testing.T) string {
			return cub(t, func(r string) { os.Remove(filepath.Join(r, "images.txt")) })
		}, []string{"cub: missing {root}/images.txt"}},
		{"cub: binary images.txt", "cub", func(t *testing.T) string {
			return cub(t, func(r string) { write(r, "images.txt", []byte{0x89, 'P', 'N', 'G', 0, 0, 0xff, '\n', 1, 2}) })
		}, []string{"{root}/images.txt:1: want \"<id> <image path>\" with a positive id"}},
		{"cub: line longer than a megabyte", "cub", func(t *testing.T) string {
			return cub(t, func(r string) { replaceLine(t, filepath.Join(r, "images.txt"), 2, "2 "+strings.Repeat("a", 2<<20)) })
		}, []string{"{root}/images.txt:", "token too long"}},
		{"cub: no classes", "cub", func(t *testing.T) string {
			return cub(t, func(r string) { write(r, "classes.txt", nil) })
		}, []string{"{root}/image_class_labels.txt:1: class id \"1\" is not in 1..0 (classes.txt)"}},

		{"dogs: truncated list", "dogs", func(t *testing.T) string {
			r := filepath.Join(t.TempDir(), "dogs")
			write(r, "lists/train_list.mat", dogsTrain[:len(dogsTrain)*2/3])
			write(r, "lists/test_list.mat", dogsTest)
			return r
		}, []string{"dogs: {root}/lists/train_list.mat: matfile:", "only 80 left"}},
		{"dogs: empty list", "dogs", func(t *testing.T) string {
			r := filepath.Join(t.TempDir(), "dogs")
			write(r, "lists/train_list.mat", nil)
			write(r, "lists/test_list.mat", dogsTest)
			return r
		}, []string{"dogs: {root}/lists/train_list.mat: matfile: file of 0 bytes is shorter than the 128-byte MAT v5 header"}},
		{"dogs: text as a MAT file", "dogs", func(t *testing.T) string {
			r := filepath.Join(t.TempDir(), "dogs")
			write(r, "lists/train_list.mat", []byte(strings.Repeat("file_list labels annotation_list\n", 10)))
			write(r, "lists/test_list.mat", dogsTest)
			return r
		}, []string{"dogs: {root}/lists/train_list.mat: matfile: not a MAT v5 file"}},
		{"dogs: wrong variables", "dogs", func(t *testing.T) string {
			r := filepath.Join(t.TempDir(), "dogs")
			write(r, "lists/train_list.mat", carsMeta)
			write(r, "lists/test_list.mat", dogsTest)
			return r
		}, []string{"dogs: {root}/lists/train_list.mat: no variable \"file_list\""}},
		{"dogs: images missing", "dogs", func(t *testing.T) string {
			r := filepath.Join(t.TempDir(), "dogs")
			write(r, "lists/train_list.mat", dogsTrain)
			write(r, "lists/test_list.mat", dogsTest)
			return r
		}, []string{"dogs: {root}/lists/train_list.mat", "does not exist"}},
		{"cars: truncated meta", "cars", func(t *testing.T) string {
			r := filepath.Join(t.TempDir(), "cars")
			write(r, "devkit/cars_meta.mat", carsMeta[:len(carsMeta)/2])
			write(r, "devkit/cars_train_annos.mat", carsMeta)
			return r
		}, []string{"cars: {root}/devkit/cars_meta.mat: matfile:", "truncated"}},
		{"cars: annotations of the wrong structure", "cars", func(t *testing.T) string {
			r := filepath.Join(t.TempDir(), "cars")
			write(r, "cars_annos.mat", dogsTrain)
			return r
		}, []string{"cars: {root}/cars_annos.mat: no variable \"class_names\""}},
		{"cars: CSV row with four columns", "cars", func(t *testing.T) string {
			r := filepath.Join(t.TempDir(), "cars")
			write(r, "train.csv", []byte("00001.jpg,1,2,30,40,1\n00002.jpg,1,2,30\n"))
			write(r, "test.csv", []byte("00003.jpg,1,2,30,40,1\n"))
			return r
		}, []string{"{root}/train.csv:2: want the 6 columns fname,x1,y1,x2,y2,class"}},
		{"cars: CSV class not a number", "cars", func(t *testing.T) string {
			r := filepath.Join(t.TempDir(), "cars")
			write(r, "train.csv", []byte("fname,x1,y1,x2,y2,class\n00001.jpg,1,2,30,40,sedan\n"))
			write(r, "test.csv", []byte("fname,x1,y1,x2,y2,class\n00003.jpg,1,2,30,40,1\n"))
			return r
		}, []string{"{root}/train.csv:2:", "class \"sedan\" is not a class id from 1"}},
		{"cars: CSV with a broken quote", "cars", func(t *testing.T) string {
			r := filepath.Join(t.TempDir(), "cars")
			write(r, "train.csv", []byte("fname,x1,y1,x2,y2,class\n\"00001.jpg,1,2,30,40,1\n"))
			write(r, "test.csv", []byte("fname,x1,y1,x2,y2,class\n00003.jpg,1,2,30,40,1\n"))
			return r
		}, []string{"{root}/train.csv:2: extraneous or missing \" in quoted-field"}},
		{"folder: no class folders", "folder", func(t *testing.T) string {
			r := filepath.Join(t.TempDir(), "folder")
			write(r, "readme.txt", []byte("images go in class folders"))
			return r
		}, []string{"folder: {root}: no class folders"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := c.make(t)
			cfg := writeConfig(t, tmp, fmt.Sprintf("case-%02d.yaml", i), tinyConfig(root, 1))
			args := []string{"-config", cfg, "-out", filepath.Join(tmp, fmt.Sprintf("run-%02d", i)), "-set", "data.format=" + c.format}
			code, out := runCmd(t, bin, args, childEnv())
			noPanic(t, out)
			if code != 1 {
				t.Errorf("exit status %d, want 1; output:\n%s", code, out)
			}
			for _, w := range c.want {
				w = strings.ReplaceAll(w, "{root}", root)
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if testing.Verbose() {
				t.Logf("%s", firstLines(out, 3))
			}
		})
	}
}

func firstLines(s string, n int) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 8<<20)
	for i := 0; i < n && sc.Scan(); i++ {
		line := sc.Text()
		if len(line) > 400 {
			line = line[:400] + "…"
		}
		b.WriteString(line + "\n")
	}
	return strings.TrimSpace(b.String())
}

// manyFrameGIF encodes frames flat w×h frames: a small file whose frames together are a bomb for a
// decoder that composites them all.
func manyFrameGIF(t testing.TB, w, h, frames int) []byte {
	t.Helper()
	pal := color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{255, 255, 255, 255}}
	frame := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	g := &gif.GIF{}
	for range frames {
		g.Image = append(g.Image, frame)
		g.Delay = append(g.Delay, 1)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// runWithin runs a command like runCmd but gives up after d: it sends SIGTERM, then SIGKILL 10 s
// later, and fails the test saying whether the command honoured SIGTERM. A command that blocks (on a
// named pipe, say) fails the test instead of hanging it.
func runWithin(t *testing.T, d time.Duration, bin string, args []string) (int, string) {
	t.Helper()
	p := start(t, bin, args, "", childEnv())
	select {
	case <-p.exited:
		return p.wait()
	case <-time.After(d):
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		_, out := p.wait()
		t.Fatalf("%s %q still running after %v (it stopped on SIGTERM); output:\n%s", filepath.Base(bin), args, d, tail(out, 20))
	case <-time.After(10 * time.Second):
		p.kill()
		_, out := p.wait()
		t.Fatalf("%s %q still running after %v and ignored SIGTERM for 10 s; output:\n%s", filepath.Base(bin), args, d, tail(out, 20))
	}
	return 0, ""
}

// TestSpecialFilesInDatasets runs cmd/train on datasets where an annotation file or a listed image is
// a named pipe, /dev/zero, or a directory: each run must stop at once with status 1 and an error
// naming the file and what it is. Before, a pipe made the command block forever in open(2), deaf to
// SIGTERM, and /dev/zero was read until memory ran out.
func TestSpecialFilesInDatasets(t *testing.T) {
	bin := command(t, "train")
	tmp := t.TempDir()
	trainSet, _ := cubImages(t, dataset(t))
	fifo := func(p string) error { return syscall.Mkfifo(p, 0o644) }
	devZero := func(p string) error { return os.Symlink("/dev/zero", p) }
	dir := func(p string) error { return os.Mkdir(p, 0o755) }
	pipeLink := func(p string) error {
		if err := syscall.Mkfifo(p+".pipe", 0o644); err != nil {
			return err
		}
		return os.Symlink(filepath.Base(p)+".pipe", p)
	}
	cases := []struct {
		name string
		file string // relative to the root
		make func(p string) error
		want string // after the file's path
	}{
		{"images.txt is a named pipe", "images.txt", fifo, ": not a regular file (named pipe)"},
		{"classes.txt is /dev/zero", "classes.txt", devZero, ": not a regular file (character device)"},
		{"train_test_split.txt is a directory", "train_test_split.txt", dir, ": not a regular file (directory)"},
		{"an image is a named pipe", "images/" + trainSet[0], fifo, " is not a regular file (named pipe)"},
		{"an image links to a named pipe", "images/" + trainSet[1], pipeLink, " is not a regular file (named pipe)"},
		{"an image is /dev/zero", "images/" + trainSet[2], devZero, " is not a regular file (character device)"},
		{"an image is a directory", "images/" + trainSet[3], dir, " is not a regular file (directory)"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := cubCopy(t)
			p := filepath.Join(root, filepath.FromSlash(c.file))
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := c.make(p); err != nil {
				t.Fatal(err)
			}
			cfg := writeConfig(t, tmp, fmt.Sprintf("special-%02d.yaml", i), tinyConfig(root, 1))
			for _, mode := range []string{"-prepare", "-dry-run"} {
				code, out := runWithin(t, 2*time.Minute, bin, []string{"-config", cfg, "-out", filepath.Join(tmp, fmt.Sprintf("run-%02d", i)), "-set", "data.format=cub", mode})
				noPanic(t, out)
				if code != 1 || !strings.Contains(out, p+c.want) {
					t.Errorf("%s: exit status %d, want 1 and %q:\n%s", mode, code, p+c.want, tail(out, 5))
				}
			}
		})
	}
}

// folderCopy writes the tiny dataset as class folders, root/train/<class>/ and root/test/<class>/, and
// returns the root and the class folder names.
func folderCopy(t *testing.T) (string, []string) {
	t.Helper()
	src := dataset(t)
	root := filepath.Join(t.TempDir(), "folder")
	trainSet, testSet := cubImages(t, src)
	var classes []string
	for split, rels := range map[string][]string{"train": trainSet, "test": testSet} {
		for _, rel := range rels {
			dst := filepath.Join(root, split, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, mustRead(t, filepath.Join(src, "images", rel)), 0o644); err != nil {
				t.Fatal(err)
			}
			if c := filepath.Dir(filepath.FromSlash(rel)); !slices.Contains(classes, c) {
				classes = append(classes, c)
			}
		}
	}
	slices.Sort(classes)
	return root, classes
}

// tinyWebP is a 2×2 lossless WebP of one colour, as PIL writes it.
const tinyWebP = "RIFF\x1e\x00\x00\x00WEBPVP8L\x11\x00\x00\x00\x2f\x01\x40\x00\x00\x07\x50\xb2\x22\x57\xa6\xff\x81\x88\xe8\x7f\x00\x00"

// TestClassFolderRules runs cmd/train -prepare on class-folder datasets laid out the ways users lay
// them out: a class folder that is a symbolic link, folders named "_trash" and ".ipynb_checkpoints",
// WebP images, TIFF and text files, a named pipe and /dev/zero among the images, and a flat folder
// without train/ and test/. Symbolic links are followed, WebP is read, and everything left out is
// named once with its reason; the flat folder is refused before training with the fix in the
// message. Before, the linked class and the "_" folder vanished without a word, WebP and TIFF files
// were dropped silently, and the flat folder was accepted with 0 test images.
func TestClassFolderRules(t *testing.T) {
	bin := command(t, "train")
	tmp := t.TempDir()
	root, classes := folderCopy(t)
	// The last class lives elsewhere; train/<class> and test/<class> are symbolic links to it.
	linked := classes[len(classes)-1]
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	for _, split := range []string{"train", "test"} {
		if err := os.MkdirAll(filepath.Join(elsewhere, split), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(root, split, linked), filepath.Join(elsewhere, split, linked)); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(elsewhere, split, linked), filepath.Join(root, split, linked)); err != nil {
			t.Fatal(err)
		}
	}
	first := filepath.Join(root, "train", classes[0])
	write := func(rel, data string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("train/_trash/old.jpg", string(mustRead(t, filepath.Join(first, mustList(t, first)[0]))))
	write("train/.ipynb_checkpoints/x.jpg", "x")
	write("train/"+classes[0]+"/extra.webp", tinyWebP)
	write("train/"+classes[0]+"/scan.tiff", "II*\x00")
	write("train/"+classes[0]+"/labels.txt", "notes")
	if err := syscall.Mkfifo(filepath.Join(first, "pipe.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(first, "zero.png")); err != nil {
		t.Fatal(err)
	}
	trainSet, testSet := cubImages(t, dataset(t))
	cfg := writeConfig(t, tmp, "folder.yaml", tinyConfig(root, 1))
	code, out := runWithin(t, 2*time.Minute, bin, []string{"-config", cfg, "-out", filepath.Join(tmp, "run"), "-set", "data.format=folder", "-prepare"})
	noPanic(t, out)
	if code != 0 {
		t.Fatalf("exit status %d, want 0:\n%s", code, out)
	}
	// The tiny dataset's validation split takes round(0.2·n) of each class's training images.
	wantCounts := fmt.Sprintf("%d classes, ", len(classes))
	for _, want := range []string{
		wantCounts,
		fmt.Sprintf("%d test images", len(testSet)),
		"skipped 2 files: train/" + classes[0] + "/labels.txt, train/" + classes[0] + "/scan.tiff (unsupported format; supported: .jpg, .jpeg, .png, .gif, .bmp, .webp)",
		"skipped 1 folder: train/_trash (folder name starts with \"_\"",
		"skipped 1 entry: train/.ipynb_checkpoints (hidden",
		"skipped 1 file: train/" + classes[0] + "/pipe.jpg (not a regular file: named pipe)",
		"skipped 1 file: train/" + classes[0] + "/zero.png (not a regular file: character device)",
		"followed 2 symbolic links: train/" + linked + " -> " + filepath.Join(elsewhere, "train", linked),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var train, val, test int
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, wantCounts); i >= 0 {
			fmt.Sscanf(line[i+len(wantCounts):], "%d train, %d val, %d test images", &train, &val, &test)
		}
	}
	if train+val != len(trainSet)+1 || test != len(testSet) { // +1: the WebP image
		t.Errorf("%d train + %d val, %d test images; want %d + the WebP, %d:\n%s", train, val, test, len(trainSet), len(testSet), out)
	}

	// A flat folder (root/<class>/*.jpg): refused before training, saying what to do.
	flat := filepath.Join(t.TempDir(), "flat")
	if err := os.Rename(filepath.Join(root, "train"), flat); err != nil {
		t.Fatal(err)
	}
	cfg = writeConfig(t, tmp, "flat.yaml", tinyConfig(flat, 1))
	for _, mode := range []string{"-prepare", "-dry-run"} {
		code, out = runWithin(t, 2*time.Minute, bin, []string{"-config", cfg, "-out", filepath.Join(tmp, "flat-run"), "-set", "data.format=folder", mode})
		noPanic(t, out)
		want := "folder: " + flat + ": no test images: " + flat + " has no test/ folder; set data.test_fraction (for example 0.2)"
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("flat folder, %s: exit status %d, want 1 and %q:\n%s", mode, code, want, tail(out, 5))
		}
	}
}

func mustList(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

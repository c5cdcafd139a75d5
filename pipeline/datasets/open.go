package datasets

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/finegrain/finegrain/pipeline"
)

// Formats returns the dataset formats Open reads.
func Formats() []string { return []string{"cub", "dogs", "cars", "folder", "synthetic"} }

// Option changes how Open reads a dataset.
type Option func(*options)

type options struct {
	skipMissing  bool
	skipped      *int
	noCheck      bool
	testFraction float64
	testSeed     uint64
}

// SkipMissing makes Open drop records whose image file does not exist instead of failing. The
// number dropped is stored in *skipped when skipped is not nil.
func SkipMissing(skipped *int) Option {
	return func(o *options) { o.skipMissing, o.skipped = true, skipped }
}

// NoImageCheck makes Open trust the annotation files and not look for each image on disk (faster
// for large datasets on slow file systems; a missing image then fails when it is decoded).
func NoImageCheck() Option { return func(o *options) { o.noCheck = true } }

// TestSplit makes the folder format, when the root has no train/ and test/ folders, hold out a
// stratified fraction of each class as the test split, chosen by seed (as SplitValidation does).
// Without it such a folder dataset is all training data.
func TestSplit(fraction float64, seed uint64) Option {
	return func(o *options) { o.testFraction, o.testSeed = fraction, seed }
}

// Open reads the index of the dataset of the given format (one of Formats) at root. Record paths are
// root joined with the image's path inside the dataset.
func Open(format, root string, opts ...Option) (*pipeline.Index, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.testFraction < 0 || o.testFraction >= 1 || o.testFraction != o.testFraction {
		return nil, fmt.Errorf("%s: test fraction %v is not in [0, 1)", format, o.testFraction)
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("%s: dataset root: %w", format, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: dataset root %s is not a directory", format, root)
	}
	return open(os.DirFS(root), format, root, o)
}

func open(fsys fs.FS, format, root string, o options) (*pipeline.Index, error) {
	s := &source{fsys: fsys, root: filepath.Clean(root), format: format, opts: o}
	idx := &pipeline.Index{Format: format, Root: s.root}
	var err error
	switch format {
	case "cub", "synthetic":
		err = s.cub(idx)
	case "dogs":
		err = s.dogs(idx)
	case "cars":
		err = s.cars(idx)
	case "folder":
		err = s.folder(idx)
	default:
		return nil, fmt.Errorf("unknown dataset format %q (want one of %s)", format, strings.Join(Formats(), ", "))
	}
	if err != nil {
		return nil, err
	}
	if s.opts.skipped != nil {
		*s.opts.skipped = s.skipped
	}
	if len(idx.Train) == 0 {
		return nil, fmt.Errorf("%s: %s: no training images", format, s.root)
	}
	return idx, nil
}

// source is a dataset being read: its files, and what has been dropped so far.
type source struct {
	fsys    fs.FS
	root    string
	format  string
	opts    options
	skipped int
}

// file returns the path of a dataset file for messages: the root joined with name.
func (s *source) file(name string) string { return filepath.Join(s.root, filepath.FromSlash(name)) }

// errorf formats an error about a place in a dataset file ("cub: ROOT/images.txt:12: ...").
func (s *source) errorf(name string, line int, format string, args ...any) error {
	where := s.file(name)
	if line > 0 {
		where = fmt.Sprintf("%s:%d", where, line)
	}
	return fmt.Errorf("%s: %s: %s", s.format, where, fmt.Sprintf(format, args...))
}

// exists reports whether a regular file or directory exists at name.
func (s *source) exists(name string) bool {
	_, err := fs.Stat(s.fsys, name)
	return err == nil
}

// clean turns a path from an annotation file into a path inside the dataset, refusing paths that
// leave it.
func clean(p string) (string, error) {
	p = strings.ReplaceAll(strings.TrimSpace(p), `\`, "/")
	if p == "" {
		return "", errors.New("empty path")
	}
	c := path.Clean(p)
	if path.IsAbs(p) || !fs.ValidPath(c) || c == "." {
		return "", fmt.Errorf("path %q is not inside the dataset", p)
	}
	return c, nil
}

// add appends a record for the image at rel (a clean path inside the dataset) unless the image is
// missing, which is an error or, with SkipMissing, counted. name and line say where it was listed.
func (s *source) add(list *[]pipeline.Record, rel string, label int, box *pipeline.Box, name string, line int) error {
	if !s.opts.noCheck {
		st, err := fs.Stat(s.fsys, rel)
		if err != nil || st.IsDir() {
			if s.opts.skipMissing {
				s.skipped++
				return nil
			}
			return s.errorf(name, line, "image %s does not exist", s.file(rel))
		}
	}
	*list = append(*list, pipeline.Record{Path: s.file(rel), Label: label, BBox: box})
	return nil
}

// line is one non-blank line of a text file, trimmed, with its 1-based number.
type line struct {
	n    int
	text string
}

// lines reads the non-blank lines of a text annotation file.
func (s *source) lines(name string) ([]line, error) {
	f, err := s.fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.format, notExist(err, s.file(name)))
	}
	defer f.Close()
	var out []line
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		t := strings.TrimSpace(sc.Text())
		if n == 1 {
			t = strings.TrimPrefix(t, "\ufeff")
		}
		if t != "" {
			out = append(out, line{n, t})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, s.errorf(name, len(out)+1, "%v", err)
	}
	return out, nil
}

// notExist rewrites an fs error to name the file by its path on disk.
func notExist(err error, file string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("missing %s", file)
	}
	return fmt.Errorf("%s: %w", file, err)
}

// checkClasses fails when a class has no training image: a model could not learn it.
func (s *source) checkClasses(idx *pipeline.Index, where string) error {
	seen := make([]bool, len(idx.Classes))
	for _, r := range idx.Train {
		seen[r.Label] = true
	}
	for c, ok := range seen {
		if !ok {
			return fmt.Errorf("%s: %s: class %d (%q) has no training images", s.format, where, c+1, idx.Classes[c])
		}
	}
	return nil
}

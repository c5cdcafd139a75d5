package datasets

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/pipeline/matfile"
	"github.com/finegrain/finegrain/pipeline/safefile"
)

// MaxAnnotationBytes is the largest annotation file (text, CSV or MAT) Open reads; the largest of
// the supported datasets' files are a few megabytes.
const MaxAnnotationBytes = matfile.MaxFileBytes

// ErrNoTestImages is wrapped by Open's error for a dataset without test images; the message says
// how to get some (for class folders: a test/ folder, or the TestSplit option, data.test_fraction in
// a run's configuration).
var ErrNoTestImages = errors.New("no test images")

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
	ctx          context.Context
	logger       *slog.Logger
}

// SkipMissing makes Open drop records whose image file does not exist instead of failing. The
// number dropped is stored in *skipped when skipped is not nil.
func SkipMissing(skipped *int) Option {
	return func(o *options) { o.skipMissing, o.skipped = true, skipped }
}

// NoImageCheck makes Open trust the annotation files and not look for each image on disk (faster
// for large datasets on slow file systems; a missing image then fails when it is decoded).
func NoImageCheck() Option { return func(o *options) { o.noCheck = true } }

// TestSplit makes the folder format, when the root has no test/ folder (root/<class>/... or a lone
// root/train/<class>/...), hold out a stratified fraction of each class as the test split: in each
// class, round(fraction·n) images (at most n-1) chosen by seed, as SplitValidation does (Keras'
// validation_split, but stratified and seeded). fraction 0 turns it off; a fraction > 0 for a dataset
// that has its own test split is an error, not ignored.
func TestSplit(fraction float64, seed uint64) Option {
	return func(o *options) { o.testFraction, o.testSeed = fraction, seed }
}

// WithContext makes Open stop reading files once ctx is done (annotation files are read in chunks).
func WithContext(ctx context.Context) Option { return func(o *options) { o.ctx = ctx } }

// WithLogger sends Open's notices (files and folders left out, symbolic links followed; see the
// package documentation) to logger instead of slog.Default(). They are also in Index.Skipped.
func WithLogger(logger *slog.Logger) Option { return func(o *options) { o.logger = logger } }

// Open reads the index of the dataset of the given format (one of Formats) at root. Record paths are
// root joined with the image's path inside the dataset. A dataset without test images is an error
// wrapping ErrNoTestImages. What Open leaves out (see the package documentation) is logged in one
// notice per reason and listed in Index.Skipped.
func Open(format, root string, opts ...Option) (*pipeline.Index, error) {
	o := options{ctx: context.Background(), logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if !(o.testFraction >= 0 && o.testFraction < 1) {
		return nil, fmt.Errorf("%s: test fraction %v is not in [0, 1)", format, o.testFraction)
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("%s: dataset root: %w", format, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: dataset root %s is not a directory", format, root)
	}
	s := &source{fsys: os.DirFS(root), disk: true, root: filepath.Clean(root), format: format, opts: o}
	return s.open()
}

// open reads a dataset from fsys (tests give an in-memory one); root only names files in messages.
func open(fsys fs.FS, format, root string, o options) (*pipeline.Index, error) {
	if o.ctx == nil {
		o.ctx = context.Background()
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &source{fsys: fsys, root: filepath.Clean(root), format: format, opts: o}
	return s.open()
}

func (s *source) open() (*pipeline.Index, error) {
	format := s.format
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
	if s.opts.testFraction > 0 && !s.testSplit {
		return nil, fmt.Errorf("%s: %s: a test fraction of %v applies only to class folders without a test/ folder, and this dataset has its own test split: drop the fraction (data.test_fraction)",
			format, s.root, s.opts.testFraction)
	}
	if s.opts.skipped != nil {
		*s.opts.skipped = s.skipped
	}
	idx.Skipped = s.left
	s.report()
	if len(idx.Train) == 0 {
		return nil, fmt.Errorf("%s: %s: no training images", format, s.root)
	}
	if len(idx.Test) == 0 {
		return nil, fmt.Errorf("%s: %s: %w: %s", format, s.root, ErrNoTestImages, s.noTestFix())
	}
	return idx, nil
}

// noTestFix says why a dataset has no test images and what to do about it.
func (s *source) noTestFix() string {
	missing := ""
	if s.skipped > 0 {
		missing = fmt.Sprintf(" (%d listed images are missing)", s.skipped)
	}
	switch s.format {
	case "folder":
		if s.testDir {
			return fmt.Sprintf("%s holds no images%s; put each class's test images in %s/<class>/, or remove test/ and set data.test_fraction (for example 0.2) to hold out a seeded, stratified test split",
				s.file("test"), missing, s.file("test"))
		}
		return fmt.Sprintf("%s has no test/ folder; set data.test_fraction (for example 0.2) to hold out a seeded, stratified test split of each class, or move the images into %s/<class>/ and %s/<class>/",
			s.root, s.file("train"), s.file("test"))
	case "cub", "synthetic":
		return fmt.Sprintf("every image of %s is marked 1 (training)%s; mark the test images 0", s.file("train_test_split.txt"), missing)
	case "dogs":
		return fmt.Sprintf("%s lists no images%s", s.file("lists/test_list.mat"), missing)
	}
	return "the annotations list no test images" + missing
}

// source is a dataset being read: its files, and what has been dropped so far.
type source struct {
	fsys      fs.FS
	disk      bool // fsys is os.DirFS(root): files are read by path, with O_NONBLOCK
	root      string
	format    string
	opts      options
	skipped   int                // listed images missing (SkipMissing)
	left      []pipeline.Skipped // files and folders left out, for Index.Skipped and the notices
	links     []string           // symbolic links followed, "link -> target"
	testSplit bool               // the test split was carved by TestSplit
	testDir   bool               // a folder dataset with train/ and test/
}

// leave records that the file or folder rel was left out, and why.
func (s *source) leave(rel, reason string) {
	s.left = append(s.left, pipeline.Skipped{Path: s.file(rel), Reason: reason})
}

// reasonMissing is why SkipMissing leaves a listed image out.
const reasonMissing = "listed, but missing or not a regular file"

// maxNamed is how many files a notice names before it only counts.
const maxNamed = 5

// report logs what the index left out, one notice per reason naming the first few files, and the
// symbolic links it followed: nothing is dropped without a word.
func (s *source) report() {
	var reasons []string
	byReason := map[string][]string{}
	for _, l := range s.left {
		if _, ok := byReason[l.Reason]; !ok {
			reasons = append(reasons, l.Reason)
		}
		rel, err := filepath.Rel(s.root, l.Path)
		if err != nil {
			rel = l.Path
		}
		byReason[l.Reason] = append(byReason[l.Reason], rel)
	}
	log := s.opts.logger
	for _, r := range reasons {
		names := byReason[r]
		level := slog.LevelWarn
		if r == reasonHidden {
			level = slog.LevelInfo // .DS_Store and the like: expected, but still said
		}
		one, many := noun(r)
		log.Log(s.opts.ctx, level, fmt.Sprintf("%s: %s: skipped %s: %s (%s)", s.format, s.root, count(len(names), one, many), list(names), r))
	}
	if len(s.links) > 0 {
		log.Info(fmt.Sprintf("%s: %s: followed %s: %s", s.format, s.root, count(len(s.links), "symbolic link", "symbolic links"), list(s.links)))
	}
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// list joins the first maxNamed names and counts the others.
func list(names []string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamed], ", "), len(names)-maxNamed)
}

// read returns the contents of an annotation file: a regular file of at most MaxAnnotationBytes,
// read with safefile so that a named pipe or a device is refused instead of hanging or filling memory.
func (s *source) read(name string) ([]byte, error) {
	var b []byte
	var err error
	if s.disk {
		b, err = safefile.Read(s.opts.ctx, s.file(name), MaxAnnotationBytes)
	} else {
		b, err = safefile.ReadFS(s.opts.ctx, s.fsys, name, MaxAnnotationBytes)
	}
	if err != nil {
		if ctxErr := s.opts.ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return nil, fmt.Errorf("%s: %w", s.format, err)
		}
		return nil, fmt.Errorf("%s: %w", s.format, notExist(err, s.file(name)))
	}
	return b, nil
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
// missing or not a regular file (a directory, a named pipe, a device), which is an error or, with
// SkipMissing, counted and listed. name and line say where it was listed.
func (s *source) add(list *[]pipeline.Record, rel string, label int, box *pipeline.Box, name string, line int) error {
	if !s.opts.noCheck {
		st, err := fs.Stat(s.fsys, rel)
		why := ""
		switch {
		case err != nil:
			why = "does not exist"
		case !st.Mode().IsRegular():
			why = "is not a regular file (" + safefile.Kind(st.Mode()) + ")"
		}
		if why != "" {
			if s.opts.skipMissing {
				s.skipped++
				s.leave(rel, reasonMissing)
				return nil
			}
			return s.errorf(name, line, "image %s %s", s.file(rel), why)
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
	b, err := s.read(name)
	if err != nil {
		return nil, err
	}
	var out []line
	sc := bufio.NewScanner(bytes.NewReader(b))
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

// notExist rewrites an fs error to name the file by its path on disk, once.
func notExist(err error, file string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("missing %s", file)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
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

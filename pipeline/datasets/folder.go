package datasets

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/finegrain/finegrain/pipeline"
)

// imageExts are the file extensions the folder format takes as images (compared in lower case).
var imageExts = []string{".jpg", ".jpeg", ".png"}

func hidden(name string) bool { return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") }

// classDirs lists the class folders in dir, sorted.
func (s *source) classDirs(dir string) ([]string, error) {
	entries, err := fs.ReadDir(s.fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("folder: %w", notExist(err, s.file(dir)))
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !hidden(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil // fs.ReadDir sorts by name
}

// images lists the images below dir, in lexical order.
func (s *source) images(dir string) ([]string, error) {
	var out []string
	err := fs.WalkDir(s.fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && hidden(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() && slices.Contains(imageExts, strings.ToLower(path.Ext(p))) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("folder: %s: %w", s.file(dir), err)
	}
	return out, nil
}

func (s *source) folder(idx *pipeline.Index) error {
	// train/ and test/ are splits; a lone train/ is a training split unless other class folders
	// stand beside it.
	split := s.exists("train") && (s.exists("test") || s.onlyTrain())
	splits := []struct {
		dir  string
		list *[]pipeline.Record
	}{{".", &idx.Train}}
	if split {
		splits = []struct {
			dir  string
			list *[]pipeline.Record
		}{{"train", &idx.Train}, {"test", &idx.Test}}
	}
	var classes []string
	for _, sp := range splits {
		if sp.dir == "test" && !s.exists("test") {
			continue
		}
		dirs, err := s.classDirs(sp.dir)
		if err != nil {
			return err
		}
		for _, d := range dirs {
			if !slices.Contains(classes, d) {
				classes = append(classes, d)
			}
		}
	}
	slices.Sort(classes)
	if len(classes) == 0 {
		return fmt.Errorf("folder: %s: no class folders", s.root)
	}
	idx.Classes = classes
	for _, sp := range splits {
		for label, c := range classes {
			dir := path.Join(sp.dir, c)
			if !s.exists(dir) {
				continue
			}
			imgs, err := s.images(dir)
			if err != nil {
				return err
			}
			for _, p := range imgs {
				*sp.list = append(*sp.list, pipeline.Record{Path: s.file(p), Label: label})
			}
		}
	}
	if !split && s.opts.testFraction > 0 {
		idx.Train, idx.Test = stratified(idx.Train, s.opts.testFraction, s.opts.testSeed)
	}
	where := s.root
	if split {
		where = s.file("train")
	}
	return s.checkClasses(idx, where)
}

// onlyTrain reports whether train/ is the only folder in the root (hidden ones aside).
func (s *source) onlyTrain() bool {
	entries, err := fs.ReadDir(s.fsys, ".")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !hidden(e.Name()) && e.Name() != "train" && e.IsDir() {
			return false
		}
	}
	return true
}

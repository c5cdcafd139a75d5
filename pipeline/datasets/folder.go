package datasets

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/pipeline/safefile"
)

// Why the folder format leaves a file or folder out (pipeline.Skipped.Reason).
var (
	reasonFormat     = "unsupported format; supported: " + strings.Join(pipeline.Extensions(), ", ")
	reasonHidden     = `hidden: the name starts with "."`
	reasonUnderscore = `folder name starts with "_": not a class, not searched`
	reasonBroken     = "broken symbolic link"
	reasonLoop       = "symbolic link loop"
	reasonEmpty      = "empty file"
	reasonOutside    = "image outside the class folders"
	reasonNotSplit   = "folder beside train/ and test/: only those two are read"
)

func reasonIrregular(m fs.FileMode) string { return "not a regular file: " + safefile.Kind(m) }

// noun says what a reason is about, for the notices.
func noun(reason string) (one, many string) {
	switch reason {
	case reasonUnderscore, reasonNotSplit, reasonLoop:
		return "folder", "folders"
	case reasonHidden, reasonBroken:
		return "entry", "entries"
	}
	return "file", "files"
}

// maxDepth bounds how deep the folder format searches a class folder (symbolic links can make a
// tree deep without a loop).
const maxDepth = 64

// entry is a directory entry with symbolic links followed.
type entry struct {
	name, rel string
	info      fs.FileInfo // of the target for a link
	link      bool
}

// entries lists dir (sorted by name), following symbolic links. Hidden entries (a name starting with
// ".") and broken links are left out and recorded.
func (s *source) entries(dir string) ([]entry, error) {
	des, err := fs.ReadDir(s.fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("folder: %w", notExist(err, s.file(dir)))
	}
	var out []entry
	for _, d := range des {
		rel := path.Join(dir, d.Name())
		if strings.HasPrefix(d.Name(), ".") {
			s.leave(rel, reasonHidden)
			continue
		}
		e := entry{name: d.Name(), rel: rel, link: d.Type()&fs.ModeSymlink != 0}
		if e.link {
			e.info, err = fs.Stat(s.fsys, rel) // follows the link
		} else {
			e.info, err = d.Info()
		}
		if err != nil {
			if e.link {
				s.leave(rel, reasonBroken)
			} else {
				s.leave(rel, "unreadable: "+err.Error())
			}
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// classDirs lists the class folders in dir, sorted: every folder, symbolic links to folders
// included, except those whose name starts with "." or "_".
func (s *source) classDirs(dir string, top bool) ([]string, error) {
	es, err := s.entries(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		switch {
		case e.info.IsDir() && strings.HasPrefix(e.name, "_"):
			s.leave(e.rel, reasonUnderscore)
		case e.info.IsDir():
			s.followed(e)
			out = append(out, e.name)
		case pipeline.HasImageExt(e.name):
			s.leave(e.rel, reasonOutside)
		case !top:
			s.leave(e.rel, reasonFormat) // beside the class folders of train/ or test/
		}
	}
	return out, nil
}

// followed records a symbolic link that was followed.
func (s *source) followed(e entry) {
	if !e.link {
		return
	}
	target := "?"
	if s.disk {
		if t, err := filepath.EvalSymlinks(s.file(e.rel)); err == nil {
			target = t
		}
	}
	s.links = append(s.links, e.rel+" -> "+target)
}

// images lists the images below dir in lexical order, following symbolic links (a link back to a
// folder being searched is left out as a loop). Files of other formats, files that are not regular,
// empty files and hidden files are left out and recorded.
func (s *source) images(dir string) ([]string, error) {
	var out []string
	var walk func(dir string, ancestors []string) error
	walk = func(dir string, ancestors []string) error {
		es, err := s.entries(dir)
		if err != nil {
			return err
		}
		for _, e := range es {
			switch {
			case e.info.IsDir():
				if strings.HasPrefix(e.name, "_") {
					s.leave(e.rel, reasonUnderscore)
					continue
				}
				real := s.realPath(e.rel)
				if slices.Contains(ancestors, real) || len(ancestors) >= maxDepth {
					s.leave(e.rel, reasonLoop)
					continue
				}
				s.followed(e)
				if err := walk(e.rel, append(ancestors, real)); err != nil {
					return err
				}
			case !pipeline.HasImageExt(e.name):
				s.leave(e.rel, reasonFormat)
			case !e.info.Mode().IsRegular():
				s.leave(e.rel, reasonIrregular(e.info.Mode()))
			case e.info.Size() == 0:
				s.leave(e.rel, reasonEmpty)
			default:
				if e.link {
					s.followed(e)
				}
				out = append(out, e.rel)
			}
		}
		return nil
	}
	if err := walk(dir, []string{s.realPath(dir)}); err != nil {
		return nil, err
	}
	return out, nil
}

// realPath is the path of a folder with symbolic links resolved, to detect loops; for an in-memory
// dataset (no links) the path itself.
func (s *source) realPath(rel string) string {
	if s.disk {
		if p, err := filepath.EvalSymlinks(s.file(rel)); err == nil {
			return p
		}
	}
	return rel
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
		s.besideSplits()
	}
	var classes []string
	for _, sp := range splits {
		if sp.dir == "test" && !s.exists("test") {
			continue
		}
		dirs, err := s.classDirs(sp.dir, sp.dir == ".")
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
	s.testDir = split && s.exists("test")
	if !s.testDir && s.opts.testFraction > 0 {
		idx.Train, idx.Test = stratified(idx.Train, s.opts.testFraction, s.opts.testSeed)
		s.testSplit = true
	}
	where := s.root
	if split {
		where = s.file("train")
	}
	return s.checkClasses(idx, where)
}

// besideSplits records the folders next to train/ and test/, which a split layout does not read (a
// val/ folder, say).
func (s *source) besideSplits() {
	es, err := s.entries(".")
	if err != nil {
		return
	}
	for _, e := range es {
		switch {
		case e.info.IsDir() && e.name != "train" && e.name != "test":
			s.leave(e.rel, reasonNotSplit)
		case !e.info.IsDir() && pipeline.HasImageExt(e.name):
			s.leave(e.rel, reasonOutside)
		}
	}
}

// onlyTrain reports whether train/ is the only folder in the root (hidden ones aside).
func (s *source) onlyTrain() bool {
	entries, err := fs.ReadDir(s.fsys, ".")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") && !strings.HasPrefix(e.Name(), "_") && e.Name() != "train" {
			if st, err := fs.Stat(s.fsys, e.Name()); err == nil && st.IsDir() {
				return false
			}
		}
	}
	return true
}

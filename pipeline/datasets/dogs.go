package datasets

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/pipeline/matfile"
)

// wnid matches the WordNet id before a Stanford Dogs folder name: "n02085620-".
var wnid = regexp.MustCompile(`^n\d+-`)

// mat reads a MAT-file of the dataset.
func (s *source) mat(name string) (map[string]*matfile.Value, error) {
	b, err := s.read(name)
	if err != nil {
		return nil, err
	}
	vars, err := matfile.Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.format, s.file(name), err)
	}
	return vars, nil
}

// variable returns a variable of a MAT-file read by mat, or an error naming the file.
func (s *source) variable(vars map[string]*matfile.Value, file, name string) (*matfile.Value, error) {
	if v, ok := vars[name]; ok {
		return v, nil
	}
	return nil, s.errorf(file, 0, "no variable %q", name)
}

func (s *source) dogs(idx *pipeline.Index) error {
	images := "Images"
	if !s.exists(images) && s.exists("images") {
		images = "images"
	}
	type entry struct {
		rel, file string
		label, i  int
	}
	var splits [2][]entry
	folderOf := map[int]string{}
	labelOf := map[string]int{}
	for k, file := range []string{"lists/train_list.mat", "lists/test_list.mat"} {
		vars, err := s.mat(file)
		if err != nil {
			return err
		}
		fl, err := s.variable(vars, file, "file_list")
		if err != nil {
			return err
		}
		lv, err := s.variable(vars, file, "labels")
		if err != nil {
			return err
		}
		files, err := fl.Strings()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", s.format, s.file(file), err)
		}
		labels, err := lv.Ints()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", s.format, s.file(file), err)
		}
		if len(files) != len(labels) {
			return s.errorf(file, 0, "file_list has %d entries but labels has %d", len(files), len(labels))
		}
		for i, f := range files {
			rel, err := clean(f)
			if err != nil {
				return s.errorf(file, 0, "file_list[%d]: %v", i, err)
			}
			folder, _, ok := strings.Cut(rel, "/")
			if !ok {
				return s.errorf(file, 0, "file_list[%d] = %q is not inside a class folder", i, f)
			}
			label := labels[i]
			if label < 1 {
				return s.errorf(file, 0, "labels[%d] = %d, want a class id from 1", i, label)
			}
			if prev, ok := folderOf[label]; ok && prev != folder {
				return s.errorf(file, 0, "file_list[%d] = %q is labelled %d, but class %d is folder %s", i, f, label, label, prev)
			}
			if prev, ok := labelOf[folder]; ok && prev != label {
				return s.errorf(file, 0, "file_list[%d] = %q is labelled %d, but folder %s is class %d", i, f, label, folder, prev)
			}
			folderOf[label], labelOf[folder] = folder, label
			splits[k] = append(splits[k], entry{rel: rel, file: file, label: label, i: i})
		}
	}
	idx.Classes = make([]string, len(folderOf))
	for label, folder := range folderOf {
		if label > len(folderOf) {
			return s.errorf("lists", 0, "class ids are not 1..%d: class %d (folder %s) is out of range", len(folderOf), label, folder)
		}
		idx.Classes[label-1] = wnid.ReplaceAllString(folder, "")
	}
	for k, list := range []*[]pipeline.Record{&idx.Train, &idx.Test} {
		for _, e := range splits[k] {
			if err := s.add(list, path.Join(images, e.rel), e.label-1, nil, e.file, 0); err != nil {
				return fmt.Errorf("%w (file_list[%d])", err, e.i)
			}
		}
	}
	return s.checkClasses(idx, s.file("lists/train_list.mat"))
}

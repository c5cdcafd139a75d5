package datasets

import (
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/finegrain/finegrain/pipeline"
	"github.com/finegrain/finegrain/pipeline/matfile"
)

func (s *source) cars(idx *pipeline.Index) error {
	switch {
	case s.exists("cars_annos.mat"):
		return s.carsAnnos(idx)
	case s.exists("devkit/cars_meta.mat"):
		return s.carsDevkit(idx)
	}
	return s.carsCSV(idx)
}

// carImage is one annotation of a Stanford Cars image, before its path is resolved.
type carImage struct {
	rel   string // as listed
	class int    // 1-based, 0 when unknown
	name  string // class name when listed by name
	box   *pipeline.Box
	test  bool
	file  string // the annotation file, and where in it
	line  int
	elem  int // element of a MAT struct array, or -1
}

func (c carImage) where() string {
	if c.elem >= 0 {
		return fmt.Sprintf("annotations[%d]", c.elem)
	}
	return ""
}

// matClasses reads a cell of class names.
func (s *source) matClasses(vars map[string]*matfile.Value, file string) ([]string, error) {
	v, err := s.variable(vars, file, "class_names")
	if err != nil {
		return nil, err
	}
	names, err := v.Strings()
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.format, s.file(file), err)
	}
	for i, n := range names {
		names[i] = strings.TrimSpace(n)
		if names[i] == "" {
			return nil, s.errorf(file, 0, "class_names[%d] is empty", i)
		}
	}
	if len(names) == 0 {
		return nil, s.errorf(file, 0, "class_names is empty")
	}
	return names, nil
}

// matAnnotations reads the struct array annotations. pathField names the image path; withTest
// reads the test flag.
func (s *source) matAnnotations(vars map[string]*matfile.Value, file, pathField string, withTest bool) ([]carImage, error) {
	ann, err := s.variable(vars, file, "annotations")
	if err != nil {
		return nil, err
	}
	fields := []string{pathField, "class", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"}
	if withTest {
		fields = append(fields, "test")
	}
	for _, f := range fields {
		if !ann.HasField(f) {
			return nil, s.errorf(file, 0, "annotations has no field %q (fields: %s)", f, strings.Join(ann.Fields(), ", "))
		}
	}
	wrap := func(err error) error { return fmt.Errorf("%s: %s: %w", s.format, s.file(file), err) }
	out := make([]carImage, ann.Len())
	for i := range out {
		v, _ := ann.FieldAt(i, pathField)
		p, err := v.Text()
		if err != nil {
			return nil, wrap(err)
		}
		var n [6]int
		for k, f := range fields[1:] {
			v, _ := ann.FieldAt(i, f)
			if n[k], err = v.Int(); err != nil {
				return nil, wrap(err)
			}
		}
		c := carImage{rel: p, class: n[0], file: file, elem: i}
		if c.box, err = matBox(float64(n[1]), float64(n[2]), float64(n[3]), float64(n[4])); err != nil {
			return nil, s.errorf(file, 0, "annotations[%d]: %v", i, err)
		}
		if withTest {
			if n[5] != 0 && n[5] != 1 {
				return nil, s.errorf(file, 0, "annotations[%d].test = %d, want 0 or 1", i, n[5])
			}
			c.test = n[5] == 1
		}
		out[i] = c
	}
	return out, nil
}

// matBox converts MATLAB's 1-based inclusive box to a pipeline.Box.
func matBox(x1, y1, x2, y2 float64) (*pipeline.Box, error) {
	for _, v := range []float64{x1, y1, x2, y2} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("box (%v, %v, %v, %v) is not finite", x1, y1, x2, y2)
		}
	}
	if x1 < 1 || y1 < 1 || x2 < x1 || y2 < y1 {
		return nil, fmt.Errorf("box (%v, %v, %v, %v) needs 1 <= x1 <= x2 and 1 <= y1 <= y2", x1, y1, x2, y2)
	}
	return &pipeline.Box{X1: x1 - 1, Y1: y1 - 1, X2: x2, Y2: y2}, nil
}

// carsAnnos reads the single-file layout: cars_annos.mat with paths relative to the root.
func (s *source) carsAnnos(idx *pipeline.Index) error {
	const file = "cars_annos.mat"
	vars, err := s.mat(file)
	if err != nil {
		return err
	}
	if idx.Classes, err = s.matClasses(vars, file); err != nil {
		return err
	}
	imgs, err := s.matAnnotations(vars, file, "relative_im_path", true)
	if err != nil {
		return err
	}
	for _, c := range imgs {
		list := &idx.Train
		if c.test {
			list = &idx.Test
		}
		if err := s.addCar(idx, list, c, ""); err != nil {
			return err
		}
	}
	return s.checkClasses(idx, s.file(file))
}

// carsDevkit reads the devkit layout.
func (s *source) carsDevkit(idx *pipeline.Index) error {
	vars, err := s.mat("devkit/cars_meta.mat")
	if err != nil {
		return err
	}
	if idx.Classes, err = s.matClasses(vars, "devkit/cars_meta.mat"); err != nil {
		return err
	}
	testFile := "cars_test_annos_withlabels.mat"
	if !s.exists(testFile) && s.exists("devkit/"+testFile) {
		testFile = "devkit/" + testFile
	}
	for _, split := range []struct {
		file, dir string
		list      *[]pipeline.Record
	}{
		{"devkit/cars_train_annos.mat", "cars_train", &idx.Train},
		{testFile, "cars_test", &idx.Test},
	} {
		vars, err := s.mat(split.file)
		if err != nil {
			if split.dir == "cars_test" && !s.exists(split.file) {
				return fmt.Errorf("%w (the test labels; devkit/cars_test_annos.mat has no classes)", err)
			}
			return err
		}
		imgs, err := s.matAnnotations(vars, split.file, "fname", false)
		if err != nil {
			return err
		}
		dir := split.dir
		if len(imgs) > 0 {
			nested := path.Join(dir, dir)
			if p, err := clean(imgs[0].rel); err == nil && !s.exists(path.Join(dir, p)) && s.exists(path.Join(nested, p)) {
				dir = nested // some copies unpack to cars_train/cars_train/
			}
		}
		for _, c := range imgs {
			if err := s.addCar(idx, split.list, c, dir); err != nil {
				return err
			}
		}
	}
	return s.checkClasses(idx, s.file("devkit/cars_train_annos.mat"))
}

// addCar checks an annotation's class and path and adds its record, with the image under dir.
func (s *source) addCar(idx *pipeline.Index, list *[]pipeline.Record, c carImage, dir string) error {
	at := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		if w := c.where(); w != "" {
			msg = w + ": " + msg
		}
		return s.errorf(c.file, c.line, "%s", msg)
	}
	if c.class < 1 || c.class > len(idx.Classes) {
		return at("class %d is not in 1..%d", c.class, len(idx.Classes))
	}
	rel, err := clean(c.rel)
	if err != nil {
		return at("%v", err)
	}
	if err := s.add(list, path.Join(dir, rel), c.class-1, c.box, c.file, c.line); err != nil {
		if w := c.where(); w != "" {
			return fmt.Errorf("%w (%s)", err, w)
		}
		return err
	}
	return nil
}

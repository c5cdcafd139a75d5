package datasets

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/finegrain/finegrain/pipeline"
)

// Column names accepted in a Stanford Cars CSV header (compared in lower case).
var (
	csvImageCols     = []string{"fname", "filename", "file_name", "file", "image", "image_name", "image_path", "path", "relative_im_path"}
	csvClassIDCols   = []string{"class", "class_id"}
	csvClassNameCols = []string{"class_name"}
	csvBoxCols       = [][4]string{{"bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"}, {"x1", "y1", "x2", "y2"}}
)

// csvLayout says which columns of a CSV file hold what; -1 for absent.
type csvLayout struct {
	image, classID, className, split int
	splitKind                        string // the split column's name
	box                              [4]int
}

func findCol(header []string, names []string) int {
	for i, h := range header {
		if slices.Contains(names, h) {
			return i
		}
	}
	return -1
}

// layoutOf reads a header row, or returns ok=false for a headerless file.
func layoutOf(row []string) (csvLayout, bool) {
	h := make([]string, len(row))
	for i, c := range row {
		h[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(c, "\ufeff")))
	}
	l := csvLayout{image: findCol(h, csvImageCols), classID: findCol(h, csvClassIDCols),
		className: findCol(h, csvClassNameCols), split: -1, box: [4]int{-1, -1, -1, -1}}
	if l.image < 0 {
		// Headerless: Kaggle's fname,x1,y1,x2,y2,class.
		return csvLayout{image: 0, classID: 5, className: -1, split: -1, box: [4]int{1, 2, 3, 4}}, false
	}
	for _, name := range []string{"split", "test", "is_test", "is_train"} {
		if i := findCol(h, []string{name}); i >= 0 {
			l.split, l.splitKind = i, name
			break
		}
	}
	for _, names := range csvBoxCols {
		var box [4]int
		found := true
		for k, n := range names {
			if box[k] = findCol(h, []string{n}); box[k] < 0 {
				found = false
			}
		}
		if found {
			l.box = box
			break
		}
	}
	return l, true
}

// carsCSV reads Stanford Cars from CSV annotations (see the package documentation).
func (s *source) carsCSV(idx *pipeline.Index) error {
	type csvFile struct{ name, split string }
	var files []csvFile
	switch {
	case s.exists("annotations.csv"):
		files = []csvFile{{"annotations.csv", ""}}
	case s.exists("train.csv"):
		files = []csvFile{{"train.csv", "train"}, {"test.csv", "test"}}
	case s.exists("anno_train.csv"):
		files = []csvFile{{"anno_train.csv", "train"}, {"anno_test.csv", "test"}}
	default:
		return fmt.Errorf("cars: %s: no annotations: want cars_annos.mat, devkit/cars_meta.mat with "+
			"devkit/cars_train_annos.mat, or CSV files (annotations.csv, train.csv and test.csv, or anno_train.csv and anno_test.csv)", s.root)
	}
	var rows []carImage
	for _, f := range files {
		r, err := s.readCarsCSV(f.name, f.split)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	var err error
	if idx.Classes, err = s.csvClasses(rows); err != nil {
		return err
	}
	for i := range rows {
		c := &rows[i]
		if c.name == "" {
			continue
		}
		if c.class == 0 {
			c.class = slices.Index(idx.Classes, c.name) + 1
		} else if c.class <= len(idx.Classes) && idx.Classes[c.class-1] != c.name {
			return s.errorf(c.file, c.line, "class %d is named %q here but %q in the class names", c.class, c.name, idx.Classes[c.class-1])
		}
	}
	for _, c := range rows { // every annotation is checked before any image is looked for
		if c.class < 1 || c.class > len(idx.Classes) {
			if c.class == 0 {
				return s.errorf(c.file, c.line, "class_name %q is not among the class names", c.name)
			}
			return s.errorf(c.file, c.line, "class %d is not in 1..%d", c.class, len(idx.Classes))
		}
	}
	dirs := map[bool]string{}
	for _, c := range rows {
		dir, ok := dirs[c.test]
		if !ok {
			dir = s.carsImageDir(c, idx.Classes)
			dirs[c.test] = dir
		}
		if strings.Contains(dir, "{class}") {
			dir = strings.ReplaceAll(dir, "{class}", classFolder(idx.Classes[c.class-1]))
		}
		list := &idx.Train
		if c.test {
			list = &idx.Test
		}
		if err := s.addCar(idx, list, c, dir); err != nil {
			return err
		}
	}
	return s.checkClasses(idx, s.file(files[0].name))
}

// classFolder is the folder name of a class in the class-folder copies of Stanford Cars.
func classFolder(name string) string { return strings.ReplaceAll(name, "/", "-") }

// carsImageDir finds where the images of c's split are, by looking for c's image; "{class}" in the
// result stands for the class folder. When nothing is found it returns "" (paths from the root).
func (s *source) carsImageDir(c carImage, classes []string) string {
	rel, err := clean(c.rel)
	if err != nil {
		return ""
	}
	split := "train"
	if c.test {
		split = "test"
	}
	cars := "cars_" + split
	for _, dir := range []string{"", cars, path.Join(cars, cars), split, path.Join(split, "{class}"),
		path.Join("car_data", split, "{class}"), path.Join("car_data", "car_data", split, "{class}")} {
		probe := dir
		if strings.Contains(dir, "{class}") {
			if c.class < 1 || c.class > len(classes) {
				continue
			}
			probe = strings.ReplaceAll(dir, "{class}", classFolder(classes[c.class-1]))
		}
		if s.exists(path.Join(probe, rel)) {
			return dir
		}
	}
	return ""
}

// readCarsCSV reads one CSV annotation file; split is "train", "test", or "" to read a split column.
func (s *source) readCarsCSV(name, split string) ([]carImage, error) {
	b, err := s.read(name)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var (
		out    []carImage
		layout csvLayout
	)
	for first := true; ; first = false {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, s.errorf(name, pe.Line, "%v", pe.Err)
			}
			return nil, fmt.Errorf("cars: %s: %w", s.file(name), err)
		}
		line, _ := r.FieldPos(0)
		if first {
			var header bool
			if layout, header = layoutOf(row); header {
				if layout.classID < 0 && layout.className < 0 {
					return nil, s.errorf(name, line, "header %q has no class column (%s, or %s)", strings.Join(row, ","), strings.Join(csvClassIDCols, ", "), csvClassNameCols[0])
				}
				if split == "" && layout.split < 0 {
					return nil, s.errorf(name, line, "header %q has no split column (split, test, is_test or is_train)", strings.Join(row, ","))
				}
				continue
			}
			if split == "" {
				return nil, s.errorf(name, line, "annotations.csv needs a header with a split column")
			}
		}
		c, err := parseCarRow(row, layout, split)
		if err != nil {
			return nil, s.errorf(name, line, "%v", err)
		}
		c.file, c.line, c.elem = name, line, -1
		out = append(out, c)
	}
	return out, nil
}

func parseCarRow(row []string, l csvLayout, split string) (carImage, error) {
	need := max(l.image, l.classID, l.className, l.split, l.box[0], l.box[1], l.box[2], l.box[3]) + 1
	if len(row) < need {
		if l.box[0] == 1 && l.classID == 5 {
			return carImage{}, fmt.Errorf("want the 6 columns fname,x1,y1,x2,y2,class (or a header naming the columns), got %d", len(row))
		}
		return carImage{}, fmt.Errorf("want at least %d columns as the header says, got %d", need, len(row))
	}
	c := carImage{rel: strings.TrimSpace(row[l.image])}
	if l.classID >= 0 {
		v := strings.TrimSpace(row[l.classID])
		id, err := strconv.Atoi(v)
		if err != nil || id < 1 {
			return c, fmt.Errorf("class %q is not a class id from 1", v)
		}
		c.class = id
	}
	if l.className >= 0 {
		if c.name = strings.TrimSpace(row[l.className]); c.name == "" {
			return c, errors.New("empty class_name")
		}
	}
	if l.box[0] >= 0 {
		var b [4]float64
		for k, i := range l.box {
			v, err := strconv.ParseFloat(strings.TrimSpace(row[i]), 64)
			if err != nil {
				return c, fmt.Errorf("box coordinate %q is not a number", row[i])
			}
			b[k] = v
		}
		box, err := matBox(b[0], b[1], b[2], b[3])
		if err != nil {
			return c, err
		}
		c.box = box
	}
	switch {
	case split != "":
		c.test = split == "test"
	default:
		v := strings.ToLower(strings.TrimSpace(row[l.split]))
		switch {
		case l.splitKind == "split" && (v == "train" || v == "test"):
			c.test = v == "test"
		case l.splitKind != "split" && (v == "0" || v == "1"):
			c.test = (v == "1") == (l.splitKind != "is_train")
		default:
			want := "0 or 1"
			if l.splitKind == "split" {
				want = "train or test"
			}
			return c, fmt.Errorf("%s is %q, want %s", l.splitKind, v, want)
		}
	}
	return c, nil
}

// csvClasses finds the class names of CSV annotations: from a names file or the devkit when the rows
// carry ids, else the sorted class_name values.
func (s *source) csvClasses(rows []carImage) ([]string, error) {
	ids := false
	for _, c := range rows {
		ids = ids || c.class > 0
	}
	if ids {
		for _, name := range []string{"names.csv", "class_names.csv"} {
			if s.exists(name) {
				return s.namesFile(name)
			}
		}
		if s.exists("devkit/cars_meta.mat") {
			vars, err := s.mat("devkit/cars_meta.mat")
			if err != nil {
				return nil, err
			}
			return s.matClasses(vars, "devkit/cars_meta.mat")
		}
	}
	byID := map[int]string{}
	var names []string
	for _, c := range rows {
		if c.name == "" {
			if ids {
				return nil, fmt.Errorf("cars: %s: class ids need names: add names.csv (one class name per line) or devkit/cars_meta.mat", s.root)
			}
			continue
		}
		if prev, ok := byID[c.class]; ok && c.class > 0 && prev != c.name {
			return nil, s.errorf(c.file, c.line, "class %d is named %q here but %q before", c.class, c.name, prev)
		}
		byID[c.class] = c.name
		if !slices.Contains(names, c.name) {
			names = append(names, c.name)
		}
	}
	if !ids {
		slices.Sort(names)
		return names, nil
	}
	out := make([]string, len(byID))
	for id, n := range byID {
		if id < 1 || id > len(out) {
			return nil, fmt.Errorf("cars: %s: class ids are not 1..%d (class %d, %q)", s.root, len(out), id, n)
		}
		out[id-1] = n
	}
	return out, nil
}

// namesFile reads one class name per line (a first line "class_name" or "name" is a header).
func (s *source) namesFile(name string) ([]string, error) {
	ls, err := s.lines(name)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, l := range ls {
		t := l.text
		if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' {
			t = strings.ReplaceAll(t[1:len(t)-1], `""`, `"`)
		}
		if i == 0 && (strings.EqualFold(t, "class_name") || strings.EqualFold(t, "name")) {
			continue
		}
		out = append(out, strings.TrimSpace(t))
	}
	if len(out) == 0 {
		return nil, s.errorf(name, 0, "no class names")
	}
	return out, nil
}

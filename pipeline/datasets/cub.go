package datasets

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/finegrain/finegrain/pipeline"
)

// cubNumber matches the "001." that CUB puts before class names and folder names.
var cubNumber = regexp.MustCompile(`^\d+\.`)

// idTable is a CUB file of "<id> <value>" lines, keyed by id.
type idTable struct {
	name  string
	value map[int]string
	line  map[int]int
}

// idLines reads a file of "<positive id> <value>" lines; want describes the value for messages.
func (s *source) idLines(name, want string) (*idTable, []int, error) {
	ls, err := s.lines(name)
	if err != nil {
		return nil, nil, err
	}
	t := &idTable{name: name, value: make(map[int]string, len(ls)), line: make(map[int]int, len(ls))}
	order := make([]int, 0, len(ls))
	for _, l := range ls {
		idText, rest, ok := strings.Cut(l.text, " ")
		if !ok {
			idText, rest, ok = strings.Cut(l.text, "\t")
		}
		rest = strings.TrimSpace(rest)
		id, err := strconv.Atoi(idText)
		if !ok || err != nil || id <= 0 || rest == "" {
			return nil, nil, s.errorf(name, l.n, "want \"<id> %s\" with a positive id, got %q", want, l.text)
		}
		if prev, dup := t.line[id]; dup {
			return nil, nil, s.errorf(name, l.n, "id %d repeats line %d", id, prev)
		}
		t.value[id], t.line[id] = rest, l.n
		order = append(order, id)
	}
	return t, order, nil
}

// get returns the value of an image id that must be listed in t.
func (s *source) get(t *idTable, id int, images *idTable) (string, int, error) {
	v, ok := t.value[id]
	if !ok {
		return "", 0, s.errorf(images.name, images.line[id], "image id %d is not in %s", id, s.file(t.name))
	}
	return v, t.line[id], nil
}

func (s *source) cub(idx *pipeline.Index) error {
	classes, classOrder, err := s.idLines("classes.txt", "<class name>")
	if err != nil {
		return err
	}
	idx.Classes = make([]string, len(classOrder))
	for _, id := range classOrder {
		if id > len(classOrder) {
			return s.errorf("classes.txt", classes.line[id], "class id %d is out of range: %d classes are listed, numbered from 1", id, len(classOrder))
		}
		idx.Classes[id-1] = cubNumber.ReplaceAllString(classes.value[id], "")
	}
	images, imageOrder, err := s.idLines("images.txt", "<image path>")
	if err != nil {
		return err
	}
	labels, _, err := s.idLines("image_class_labels.txt", "<class id>")
	if err != nil {
		return err
	}
	split, _, err := s.idLines("train_test_split.txt", "<is_train>")
	if err != nil {
		return err
	}
	var boxes *idTable
	if s.exists("bounding_boxes.txt") {
		if boxes, _, err = s.idLines("bounding_boxes.txt", "<x> <y> <width> <height>"); err != nil {
			return err
		}
	}
	for _, t := range []*idTable{labels, split, boxes} {
		if t == nil {
			continue
		}
		for id, n := range t.line {
			if _, ok := images.value[id]; !ok {
				return s.errorf(t.name, n, "image id %d is not in %s", id, s.file("images.txt"))
			}
		}
	}
	for _, id := range imageOrder {
		rel, err := clean(images.value[id])
		if err != nil {
			return s.errorf("images.txt", images.line[id], "%v", err)
		}
		lv, ln, err := s.get(labels, id, images)
		if err != nil {
			return err
		}
		c, err := strconv.Atoi(lv)
		if err != nil || c < 1 || c > len(idx.Classes) {
			return s.errorf(labels.name, ln, "class id %q is not in 1..%d (classes.txt)", lv, len(idx.Classes))
		}
		sv, sn, err := s.get(split, id, images)
		if err != nil {
			return err
		}
		if sv != "0" && sv != "1" {
			return s.errorf(split.name, sn, "is_train is %q, want 0 or 1", sv)
		}
		var box *pipeline.Box
		if boxes != nil {
			bv, bn, err := s.get(boxes, id, images)
			if err != nil {
				return err
			}
			if box, err = parseXYWH(bv); err != nil {
				return s.errorf(boxes.name, bn, "%v", err)
			}
		}
		list := &idx.Test
		if sv == "1" {
			list = &idx.Train
		}
		if err := s.add(list, path.Join("images", rel), c-1, box, "images.txt", images.line[id]); err != nil {
			return err
		}
	}
	return s.checkClasses(idx, s.file("image_class_labels.txt"))
}

// parseXYWH reads CUB's "<x> <y> <width> <height>".
func parseXYWH(v string) (*pipeline.Box, error) {
	f := strings.Fields(v)
	if len(f) != 4 {
		return nil, fmt.Errorf("want \"<x> <y> <width> <height>\", got %q", v)
	}
	var n [4]float64
	for i, s := range f {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("box value %q is not a number", s)
		}
		n[i] = x
	}
	if n[0] < 0 || n[1] < 0 || n[2] <= 0 || n[3] <= 0 {
		return nil, fmt.Errorf("box %q needs x, y >= 0 and width, height > 0", v)
	}
	return &pipeline.Box{X1: n[0], Y1: n[1], X2: n[0] + n[2], Y2: n[1] + n[3]}, nil
}

package datasets

import (
	"slices"
	"testing"
	"testing/fstest"

	"github.com/finegrain/finegrain/pipeline"
)

var carNames = []string{"AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Ram C/V Cargo Van Minivan 2012"}

func TestCarsCSV(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		images []string
		want   []string // class names
		train  []string
		test   []string
		box    *pipeline.Box // of the first training record
	}{
		{
			name: "annotations.csv with split and ids",
			files: map[string]string{
				"annotations.csv": "Image,Class,bbox_x1,bbox_y1,bbox_x2,bbox_y2,Split\n" +
					"car_ims/1.jpg,1,1,2,8,6,train\ncar_ims/2.jpg,2,1,1,4,4,TRAIN\ncar_ims/3.jpg,3,1,1,4,4,train\ncar_ims/4.jpg,3,1,1,4,4,test\n",
				"names.csv": "\"AM General Hummer SUV 2000\"\nAcura RL Sedan 2012\nRam C/V Cargo Van Minivan 2012\n",
			},
			images: []string{"car_ims/1.jpg", "car_ims/2.jpg", "car_ims/3.jpg", "car_ims/4.jpg"},
			want:   carNames,
			train:  []string{"1.jpg:0", "2.jpg:1", "3.jpg:2"},
			test:   []string{"4.jpg:2"},
			box:    &pipeline.Box{X1: 0, Y1: 1, X2: 8, Y2: 6},
		},
		{
			name: "train.csv and test.csv with class names, images in cars_<split>",
			files: map[string]string{
				"train.csv": "fname,class_name\n1.jpg,Zeta Coupe\n2.jpg,Alpha Van\n",
				"test.csv":  "fname,class_name\n3.jpg,Alpha Van\n",
			},
			images: []string{"cars_train/1.jpg", "cars_train/2.jpg", "cars_test/3.jpg"},
			want:   []string{"Alpha Van", "Zeta Coupe"},
			train:  []string{"1.jpg:1", "2.jpg:0"},
			test:   []string{"3.jpg:0"},
		},
		{
			name: "annotations.csv with is_test, ids and names, x1..y2 boxes",
			files: map[string]string{
				"annotations.csv": "path,class_id,class_name,x1,y1,x2,y2,is_test\n" +
					"a.jpg,2,B,1,1,2,2,0\nb.jpg,1,A,1,1,2,2,0\nc.jpg,1,A,3,3,3,3,1\n",
			},
			images: []string{"a.jpg", "b.jpg", "c.jpg"},
			want:   []string{"A", "B"},
			train:  []string{"a.jpg:1", "b.jpg:0"},
			test:   []string{"c.jpg:0"},
			box:    &pipeline.Box{X1: 0, Y1: 0, X2: 2, Y2: 2},
		},
		{
			name: "Kaggle headerless anno_train.csv with class folders",
			files: map[string]string{
				"anno_train.csv": "00001.jpg,39,116,569,375,1\n00002.jpg,36,116,868,587,3\n00003.jpg,1,1,2,2,2\n",
				"anno_test.csv":  "00004.jpg,30,52,246,147,3\n",
				"names.csv":      "AM General Hummer SUV 2000\nAcura RL Sedan 2012\nRam C/V Cargo Van Minivan 2012\n",
			},
			images: []string{
				"car_data/car_data/train/AM General Hummer SUV 2000/00001.jpg",
				"car_data/car_data/train/Ram C-V Cargo Van Minivan 2012/00002.jpg",
				"car_data/car_data/train/Acura RL Sedan 2012/00003.jpg",
				"car_data/car_data/test/Ram C-V Cargo Van Minivan 2012/00004.jpg",
			},
			want:  carNames,
			train: []string{"00001.jpg:0", "00002.jpg:2", "00003.jpg:1"},
			test:  []string{"00004.jpg:2"},
			box:   &pipeline.Box{X1: 38, Y1: 115, X2: 569, Y2: 375},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range tt.files {
				writeFile(t, root, name, content)
			}
			for _, p := range tt.images {
				writeJPEG(t, root, p, 200)
			}
			idx, err := Open("cars", root)
			if err != nil {
				t.Fatal(err)
			}
			checkIndex(t, idx)
			if !slices.Equal(idx.Classes, tt.want) {
				t.Errorf("classes %q, want %q", idx.Classes, tt.want)
			}
			if got := labelsOf(idx.Train); !slices.Equal(got, tt.train) {
				t.Errorf("train %q, want %q", got, tt.train)
			}
			if got := labelsOf(idx.Test); !slices.Equal(got, tt.test) {
				t.Errorf("test %q, want %q", got, tt.test)
			}
			if tt.box != nil && (idx.Train[0].BBox == nil || *idx.Train[0].BBox != *tt.box) {
				t.Errorf("box %v, want %v", idx.Train[0].BBox, *tt.box)
			}
		})
	}
}

func TestCarsCSVMalformed(t *testing.T) {
	names := "A\nB\n"
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no annotations", map[string]string{"readme.txt": "x"}, "cars: ROOT: no annotations: want cars_annos.mat"},
		{"missing test.csv", map[string]string{"train.csv": "fname,class\na.jpg,1\n", "names.csv": names}, "cars: missing ROOT/test.csv"},
		{"no class column", map[string]string{"annotations.csv": "fname,split\na.jpg,train\n"}, `cars: ROOT/annotations.csv:1: header "fname,split" has no class column`},
		{"no split column", map[string]string{"annotations.csv": "fname,class\na.jpg,1\n"}, "ROOT/annotations.csv:1: header \"fname,class\" has no split column"},
		{"headerless annotations.csv", map[string]string{"annotations.csv": "a.jpg,1,1,2,2,1\n"}, "ROOT/annotations.csv:1: annotations.csv needs a header with a split column"},
		{"bad split", map[string]string{"annotations.csv": "fname,class,split\na.jpg,1,train\nb.jpg,1,val\n", "names.csv": names}, `ROOT/annotations.csv:3: split is "val", want train or test`},
		{"bad is_test", map[string]string{"annotations.csv": "fname,class,is_test\na.jpg,1,2\n", "names.csv": names}, `ROOT/annotations.csv:2: is_test is "2", want 0 or 1`},
		{"class not a number", map[string]string{"train.csv": "fname,class\na.jpg,one\n", "test.csv": "fname,class\n", "names.csv": names}, `ROOT/train.csv:2: class "one" is not a class id from 1`},
		{"class out of range", map[string]string{"train.csv": "fname,class\na.jpg,1\nb.jpg,3\n", "test.csv": "fname,class\n", "names.csv": names}, "ROOT/train.csv:3: class 3 is not in 1..2"},
		{"ids without names", map[string]string{"train.csv": "fname,class\na.jpg,1\n", "test.csv": "fname,class\n"}, "class ids need names: add names.csv"},
		{"short headerless row", map[string]string{"anno_train.csv": "a.jpg,1,1,2,2,1\nb.jpg,1,1\n", "anno_test.csv": "", "names.csv": names}, "ROOT/anno_train.csv:2: want the 6 columns fname,x1,y1,x2,y2,class"},
		{"short row", map[string]string{"train.csv": "fname,class\na.jpg\n", "test.csv": "", "names.csv": names}, "ROOT/train.csv:2: want at least 2 columns as the header says, got 1"},
		{"bad box", map[string]string{"anno_train.csv": "a.jpg,5,1,2,2,1\n", "anno_test.csv": "", "names.csv": names}, "ROOT/anno_train.csv:1: box (5, 1, 2, 2) needs 1 <= x1 <= x2"},
		{"box not a number", map[string]string{"anno_train.csv": "a.jpg,x,1,2,2,1\n", "anno_test.csv": "", "names.csv": names}, `ROOT/anno_train.csv:1: box coordinate "x" is not a number`},
		{"csv syntax", map[string]string{"train.csv": "fname,class\n\"a.jpg,1\n", "test.csv": "", "names.csv": names}, "ROOT/train.csv:2: extraneous or missing \" in quoted-field"},
		{"name conflicts with names.csv", map[string]string{"annotations.csv": "fname,class,class_name,split\na.jpg,1,B,train\n", "names.csv": names}, `ROOT/annotations.csv:2: class 1 is named "B" here but "A" in the class names`},
		{"inconsistent names", map[string]string{"annotations.csv": "fname,class,class_name,split\na.jpg,1,A,train\nb.jpg,1,B,train\n"}, `ROOT/annotations.csv:3: class 1 is named "B" here but "A" before`},
		{"missing image", map[string]string{"annotations.csv": "fname,class_name,split\na.jpg,A,train\n"}, "ROOT/annotations.csv:2: image ROOT/a.jpg does not exist"},
		{"path leaves root", map[string]string{"annotations.csv": "fname,class_name,split\n/etc/passwd,A,train\n"}, `ROOT/annotations.csv:2: path "/etc/passwd" is not inside the dataset`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range tt.files {
				writeFile(t, root, name, content)
			}
			_, err := Open("cars", root)
			wantErr(t, err, root, tt.want)
		})
	}
}

// FuzzCarsCSV feeds arbitrary CSV annotations and class names to the Stanford Cars CSV reader.
func FuzzCarsCSV(f *testing.F) {
	f.Add([]byte("Image,Class,bbox_x1,bbox_y1,bbox_x2,bbox_y2,Split\ncar_ims/1.jpg,1,1,2,8,6,train\ncar_ims/4.jpg,2,1,1,4,4,test\n"), []byte("A\nB\n"))
	f.Add([]byte("path,class_id,class_name,x1,y1,x2,y2,is_test\na.jpg,2,B,1,1,2,2,0\nb.jpg,1,A,1,1,2,2,0\n"), []byte(""))
	f.Add([]byte("fname,class_name,is_train\n\"x,y.jpg\",\"Q \"\"R\"\"\",1\n"), []byte("class_name\nQ\n"))
	f.Fuzz(func(t *testing.T, annotations, names []byte) {
		fsys := fstest.MapFS{"annotations.csv": {Data: annotations}, "names.csv": {Data: names}}
		idx, err := open(fsys, "cars", "root", options{noCheck: true})
		if err != nil {
			return
		}
		checkIndex(t, idx)
	})
}

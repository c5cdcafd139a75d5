package datasets

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/pipeline"
)

// matDatasets writes, with scipy.io.savemat, the MAT files of tiny Stanford Dogs and Stanford Cars
// datasets (and broken variants), one per folder of argv[1], shaped as the real files are: cells
// of paths as object arrays, 1-based labels as doubles, annotations as struct arrays with small
// integer fields. It prints the images each folder needs, as JSON.
const matDatasets = `
import sys, os, json, numpy as np, scipy.io as sio
out = sys.argv[1]
need = {}
def cell(items, shape):
    a = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        a[i] = x
    return a.reshape(shape)
def save(root, rel, d, compress=True):
    p = os.path.join(out, root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    sio.savemat(p, d, do_compression=compress)

# Stanford Dogs: 3 classes, 2 train and 1 test image each.
folders = ['n02085620-Chihuahua', 'n02085782-Japanese_spaniel', 'n02086240-Shih-Tzu']
def dogs(name, split_files, mutate=None):
    need[name] = []
    for split, files in split_files.items():
        paths = [f for f, _ in files]
        d = {'file_list': cell(paths, (len(paths), 1)),
             'annotation_list': cell([p[:-4] for p in paths], (len(paths), 1)),
             'labels': np.array([[float(l)] for _, l in files])}
        if mutate:
            mutate(split, d)
        save(name, 'lists/%s_list.mat' % split, d, compress=(split == 'train'))
        need[name] += ['Images/' + p for p in paths]
good = {'train': [('%s/%s_%d.jpg' % (f, f[:9], i), c + 1) for c, f in enumerate(folders) for i in (1, 2)],
        'test': [('%s/%s_9.jpg' % (f, f[:9]), c + 1) for c, f in enumerate(folders)]}
dogs('dogs', good)
def drop_label(split, d):
    if split == 'train': d['labels'] = d['labels'][:-1]
dogs('dogs_mismatch', good, drop_label)
def swap(split, d):
    if split == 'test': d['labels'][0, 0] = 2.0
dogs('dogs_wrongfolder', good, swap)
def nofiles(split, d):
    if split == 'test': del d['file_list']
dogs('dogs_nofilelist', good, nofiles)
def zero(split, d):
    if split == 'train': d['labels'][1, 0] = 0.0
dogs('dogs_zero', good, zero)
def frac(split, d):
    if split == 'train': d['labels'][1, 0] = 1.5
dogs('dogs_frac', good, frac)

# Stanford Cars.
names = ['AM General Hummer SUV 2000', 'Acura RL Sedan 2012', 'Ram C/V Cargo Van Minivan 2012']
def annotations(rows, path_field, with_test):
    dt = [('bbox_x1', 'O'), ('bbox_y1', 'O'), ('bbox_x2', 'O'), ('bbox_y2', 'O'), ('class', 'O'), (path_field, 'O')]
    if with_test: dt.append(('test', 'O'))
    a = np.zeros((1, len(rows)), dtype=dt)
    for i, r in enumerate(rows):
        x1, y1, x2, y2, c, p = r[:6]
        vals = [np.array([[x1]], np.uint8), np.array([[y1]], np.uint8), np.array([[x2]], np.uint16),
                np.array([[y2]], np.uint16), np.array([[c]], np.uint8), p]
        if with_test: vals.append(np.array([[r[6]]], np.uint8))
        a[0, i] = tuple(vals)
    return a
train = [(1, 2, 8, 6, 1, '00001.jpg'), (2, 2, 300, 200, 2, '00002.jpg'), (1, 1, 1, 1, 3, '00003.jpg')]
test = [(3, 3, 7, 5, 3, '00001.jpg'), (1, 1, 4, 4, 1, '00002.jpg')]
def devkit(name, train, test, test_in='devkit', nested=False, meta=True):
    if meta: save(name, 'devkit/cars_meta.mat', {'class_names': cell(names, (1, 3))})
    save(name, 'devkit/cars_train_annos.mat', {'annotations': annotations(train, 'fname', False)}, compress=False)
    if test_in is not None:
        save(name, os.path.join(test_in, 'cars_test_annos_withlabels.mat'), {'annotations': annotations(test, 'fname', False)})
    pre = lambda s: 'cars_%s/cars_%s/' % (s, s) if nested else 'cars_%s/' % s
    need[name] = [pre('train') + r[5] for r in train] + [pre('test') + r[5] for r in test]
devkit('cars_devkit', train, test)
devkit('cars_devkit_root_test', train, test, test_in='.', nested=True)
devkit('cars_notest', train, test, test_in=None)
devkit('cars_badclass', train, test[:1] + [(1, 1, 4, 4, 4, '00002.jpg')])
devkit('cars_badbox', train[:1] + [(5, 2, 3, 200, 2, '00002.jpg')] + train[2:], test)
allrows = [r + (0,) for r in train] + [(3, 3, 7, 5, 3, '00004.jpg', 1), (1, 1, 4, 4, 1, '00005.jpg', 1)]
allrows = [r[:5] + ('car_ims/' + r[5],) + r[6:] for r in allrows]
save('cars_annos', 'cars_annos.mat', {'annotations': annotations(allrows, 'relative_im_path', True),
                                      'class_names': cell(names, (1, 3))})
need['cars_annos'] = [r[5] for r in allrows]
save('cars_annos_notest', 'cars_annos.mat', {'annotations': annotations(allrows, 'relative_im_path', False),
                                             'class_names': cell(names, (1, 3))})
need['cars_annos_notest'] = []
json.dump(need, sys.stdout)
`

func TestMATDatasets(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the scipy-written datasets in short mode (Python start-up takes seconds)")
	}
	py := pyref.Torch(t)
	dir := t.TempDir()
	var need map[string][]string
	if err := json.Unmarshal(pyref.Run(t, py, matDatasets, dir), &need); err != nil {
		t.Fatal(err)
	}
	for root, images := range need {
		for _, p := range images {
			writeJPEG(t, filepath.Join(dir, root), p, 10)
		}
	}
	root := func(name string) string { return filepath.Join(dir, name) }

	t.Run("dogs", func(t *testing.T) {
		idx, err := Open("dogs", root("dogs"))
		if err != nil {
			t.Fatal(err)
		}
		checkIndex(t, idx)
		if want := []string{"Chihuahua", "Japanese_spaniel", "Shih-Tzu"}; !slices.Equal(idx.Classes, want) {
			t.Errorf("classes %q, want %q", idx.Classes, want)
		}
		if got, want := labelsOf(idx.Train), []string{"n02085620_1.jpg:0", "n02085620_2.jpg:0", "n02085782_1.jpg:1", "n02085782_2.jpg:1", "n02086240_1.jpg:2", "n02086240_2.jpg:2"}; !slices.Equal(got, want) {
			t.Errorf("train %q, want %q", got, want)
		}
		if got, want := labelsOf(idx.Test), []string{"n02085620_9.jpg:0", "n02085782_9.jpg:1", "n02086240_9.jpg:2"}; !slices.Equal(got, want) {
			t.Errorf("test %q, want %q", got, want)
		}
		if p := idx.Test[1].Path; p != filepath.Join(root("dogs"), "Images", "n02085782-Japanese_spaniel", "n02085782_9.jpg") {
			t.Errorf("path %q", p)
		}
	})

	t.Run("cars", func(t *testing.T) {
		for _, name := range []string{"cars_devkit", "cars_devkit_root_test", "cars_annos"} {
			idx, err := Open("cars", root(name))
			if err != nil {
				t.Fatal(err)
			}
			checkIndex(t, idx)
			if want := []string{"AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Ram C/V Cargo Van Minivan 2012"}; !slices.Equal(idx.Classes, want) {
				t.Errorf("%s: classes %q, want %q", name, idx.Classes, want)
			}
			if len(idx.Train) != 3 || len(idx.Test) != 2 {
				t.Fatalf("%s: %d train, %d test; want 3, 2", name, len(idx.Train), len(idx.Test))
			}
			if got, want := []int{idx.Train[0].Label, idx.Train[1].Label, idx.Train[2].Label, idx.Test[0].Label, idx.Test[1].Label}, []int{0, 1, 2, 2, 0}; !slices.Equal(got, want) {
				t.Errorf("%s: labels %v, want %v", name, got, want)
			}
			if b := idx.Train[1].BBox; b == nil || *b != (pipeline.Box{X1: 1, Y1: 1, X2: 300, Y2: 200}) {
				t.Errorf("%s: box %v, want {1 1 300 200} (from 1-based 2 2 300 200)", name, b)
			}
			if b := idx.Train[2].BBox; b == nil || *b != (pipeline.Box{X1: 0, Y1: 0, X2: 1, Y2: 1}) {
				t.Errorf("%s: one-pixel box %v", name, b)
			}
		}
	})

	for _, tt := range []struct{ format, root, want string }{
		{"dogs", "dogs_mismatch", "dogs: ROOT/lists/train_list.mat: file_list has 6 entries but labels has 5"},
		{"dogs", "dogs_wrongfolder", `dogs: ROOT/lists/test_list.mat: file_list[0] = "n02085620-Chihuahua/n02085620_9.jpg" is labelled 2, but class 2 is folder n02085782-Japanese_spaniel`},
		{"dogs", "dogs_nofilelist", `dogs: ROOT/lists/test_list.mat: no variable "file_list"`},
		{"dogs", "dogs_zero", "dogs: ROOT/lists/train_list.mat: labels[1] = 0, want a class id from 1"},
		{"dogs", "dogs_frac", "dogs: ROOT/lists/train_list.mat: matfile: labels: element 1 is 1.5, not an integer"},
		{"dogs", "cars_devkit", "dogs: missing ROOT/lists/train_list.mat"},
		{"cars", "cars_notest", "cars: missing ROOT/cars_test_annos_withlabels.mat (the test labels; devkit/cars_test_annos.mat has no classes)"},
		{"cars", "cars_badclass", "cars: ROOT/devkit/cars_test_annos_withlabels.mat: annotations[1]: class 4 is not in 1..3"},
		{"cars", "cars_badbox", "cars: ROOT/devkit/cars_train_annos.mat: annotations[1]: box (5, 2, 3, 200) needs 1 <= x1 <= x2"},
		{"cars", "cars_annos_notest", `cars: ROOT/cars_annos.mat: annotations has no field "test"`},
	} {
		t.Run(tt.root, func(t *testing.T) {
			_, err := Open(tt.format, root(tt.root))
			wantErr(t, err, root(tt.root), tt.want)
		})
	}

	// A missing image names the MAT element that lists it, or is skipped and counted.
	t.Run("missing image", func(t *testing.T) {
		r := root("cars_annos")
		if err := os.Remove(filepath.Join(r, "car_ims", "00005.jpg")); err != nil {
			t.Fatal(err)
		}
		_, err := Open("cars", r)
		wantErr(t, err, r, "cars: ROOT/cars_annos.mat: image ROOT/car_ims/00005.jpg does not exist (annotations[4])")
		skipped := 0
		idx, err := Open("cars", r, SkipMissing(&skipped))
		if err != nil || skipped != 1 || len(idx.Test) != 1 {
			t.Fatalf("SkipMissing: %v, %d skipped", err, skipped)
		}
	})
}

// FuzzDogs feeds arbitrary MAT files as Stanford Dogs' lists; the seeds are scipy-written lists.
func FuzzDogs(f *testing.F) {
	train, err := os.ReadFile("testdata/dogs/train_list.mat")
	if err != nil {
		f.Fatal(err)
	}
	test, err := os.ReadFile("testdata/dogs/test_list.mat")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(train, test)
	f.Fuzz(func(t *testing.T, train, test []byte) {
		fsys := fstest.MapFS{"lists/train_list.mat": {Data: train}, "lists/test_list.mat": {Data: test}}
		idx, err := open(fsys, "dogs", "root", options{noCheck: true})
		if err != nil {
			return
		}
		checkIndex(t, idx)
	})
}

// TestDogsSeeds reads the committed seed lists, so the dogs reader is covered in short mode too.
func TestDogsSeeds(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"train_list.mat", "test_list.mat"} {
		b, err := os.ReadFile(filepath.Join("testdata", "dogs", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, root, "lists/"+f, string(b))
	}
	for _, p := range []string{"n02085620-Chihuahua/n02085620_1.jpg", "n02085782-Japanese_spaniel/n02085782_1.jpg", "n02085620-Chihuahua/n02085620_2.jpg"} {
		writeJPEG(t, root, "Images/"+p, 3)
	}
	idx, err := Open("dogs", root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(idx.Classes, []string{"Chihuahua", "Japanese_spaniel"}) || len(idx.Train) != 2 || len(idx.Test) != 1 || idx.Train[1].Label != 1 {
		t.Errorf("classes %q, %d train, %d test", idx.Classes, len(idx.Train), len(idx.Test))
	}
}

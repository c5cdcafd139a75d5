package train

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/nets"
)

// One key written in two places of a file (nested and dotted, or in two letter cases) picked a
// different value from run to run. It is refused, naming every place by line, whatever the values.
func TestConfigDuplicateKeysRefused(t *testing.T) {
	tests := []struct {
		name, file string
		want       string
	}{
		{"nested and dotted", "train:\n  lr: 0.1\ntrain.lr: 0.2\n",
			"train.lr: given 2 times, at line 3 (train: lr) and line 4 (train.lr): keep one"},
		{"letter case", "train:\n  lr: 0.1\nTrain:\n  LR: 0.2\n",
			"train.lr: given 2 times, at line 3 (train: lr) and line 5 (Train: LR): keep one"},
		{"letter case inside a section", "train:\n  lr: 0.1\n  LR: 0.1\n",
			"train.lr: given 2 times, at line 3 (train: lr) and line 4 (train: LR): keep one"},
		{"two dotted spellings", "train.lr: 0.1\nTRAIN.LR: 0.2\n",
			"train.lr: given 2 times, at line 2 (train.lr) and line 3 (TRAIN.LR): keep one"},
		{"dotted section", "data.synthetic:\n  classes: 3\ndata:\n  format: synthetic\n  synthetic:\n    classes: 4\n",
			"data.synthetic.classes: given 2 times, at line 3 (data.synthetic: classes) and line 7 (data: synthetic: classes)"},
		{"three places", "model:\n  depth: 18\nmodel.depth: 18\nModel.Depth: 18\n",
			"model.depth: given 3 times, at line 3 (model: depth) and line 4 (model.depth) and line 5 (Model.Depth)"},
		{"a list twice", "model.attention_stages: [3, 4]\nmodel:\n  Attention_Stages: [3, 4]\n",
			"model.attention_stages: given 2 times, at line 2 (model.attention_stages) and line 4 (model: Attention_Stages)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Many loads: before, the value depended on map order, so one load could pass.
			for range 20 {
				_, err := loadWith(t, tc.file, nil, nil)
				ps := problems(t, err)
				if len(ps) != 1 || !strings.HasPrefix(ps[0], tc.want) {
					t.Fatalf("problems %q, want one starting %q", ps, tc.want)
				}
			}
		})
	}
}

// Keys ignore letter case, in files and -set, consistently: a key written once in any case is that
// key. (Environment variable names are upper case; see TestConfigEnvironment.)
func TestConfigMixedCaseKeysAccepted(t *testing.T) {
	cfg, err := loadWith(t, "Train:\n  LR: 0.2\n  Epochs: 7\nMODEL.Attention: ca\nmodel:\n  DEPTH: 18\n", []string{"Train.Batch_Size=8", " TRAIN.seed =3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{cfg.Train.LR, cfg.Train.Epochs, cfg.Model.Attention, cfg.Model.Depth, cfg.Train.BatchSize, cfg.Train.Seed}
	want := []any{0.2, 7, nets.AttentionCA, 18, 8, int64(3)}
	if !slices.Equal(got, want) {
		t.Fatalf("lr, epochs, attention, depth, batch, seed = %v, want %v", got, want)
	}
}

// FINEGRAIN_* variables: a key's variable overrides the file, naming itself in every message about its
// value; a variable naming a section is one error; a variable that matches no key is an error with
// the nearest variable (as -set typos get); the project's own other variables pass.
func TestConfigEnvironment(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string // the problems, each as a prefix, in order; nil for none
	}{
		{"section scalar", []string{"FINEGRAIN_TRAIN=3"},
			[]string{`$FINEGRAIN_TRAIN="3": names the section train, not one key: unset it and set the keys you mean one by one, e.g. $FINEGRAIN_TRAIN_EPOCHS`}},
		{"nested section scalar", []string{"FINEGRAIN_DATA_SYNTHETIC=big"},
			[]string{`$FINEGRAIN_DATA_SYNTHETIC="big": names the section data.synthetic`}},
		{"section with a list", []string{"FINEGRAIN_MODEL=[1, 2]"}, []string{`$FINEGRAIN_MODEL="[1, 2]": names the section model`}},
		{"typo", []string{"FINEGRAIN_TRAIN_EPOCH=7"},
			[]string{"$FINEGRAIN_TRAIN_EPOCH: no configuration key has this environment variable (did you mean $FINEGRAIN_TRAIN_EPOCHS?); unset it"}},
		{"typo in a word", []string{"FINEGRAIN_MODEL_ATENTION=ca"}, []string{"$FINEGRAIN_MODEL_ATENTION: no configuration key has this environment variable (did you mean $FINEGRAIN_MODEL_ATTENTION?)"}},
		{"dotted name", []string{"FINEGRAIN_TRAIN.EPOCHS=7"}, []string{"$FINEGRAIN_TRAIN.EPOCHS: no configuration key has this environment variable (did you mean $FINEGRAIN_TRAIN_EPOCHS?)"}},
		{"typo of a non-config variable", []string{"FINEGRAIN_SKIP_PYTON=1"}, []string{"$FINEGRAIN_SKIP_PYTON: no configuration key has this environment variable (did you mean $FINEGRAIN_SKIP_PYTHON?)"}},
		{"nothing near", []string{"FINEGRAIN_COLOUR_OF_THE_BIKESHED=red"}, []string{"$FINEGRAIN_COLOUR_OF_THE_BIKESHED: no configuration key has this environment variable (the variable of a key is FINEGRAIN_ and the key in capitals"}},
		{"lower case", []string{"finegrain_train_epochs=3"}, []string{"$finegrain_train_epochs: environment variable names are upper case: did you mean $FINEGRAIN_TRAIN_EPOCHS?"}},
		{"mixed case", []string{"Finegrain_Long=1"}, []string{"$Finegrain_Long: environment variable names are upper case: did you mean $FINEGRAIN_LONG?"}},
		{"value out of range", []string{"FINEGRAIN_TRAIN_EPOCHS=0"}, []string{"train.epochs: 0 (from $FINEGRAIN_TRAIN_EPOCHS): want 1 to 100000"}},
		{"value of the wrong type", []string{"FINEGRAIN_DATA_HFLIP=sometimes"}, []string{`data.hflip: "sometimes" (from $FINEGRAIN_DATA_HFLIP): want true or false`}},
		{"string out of range", []string{"FINEGRAIN_MODEL_ATTENTION=cbam"}, []string{`model.attention: "cbam" (from $FINEGRAIN_MODEL_ATTENTION): want one of`}},
		{"empty root", []string{"FINEGRAIN_DATA_ROOT="}, []string{"data.root: missing (from $FINEGRAIN_DATA_ROOT): want the dataset directory"}},
		{"several at once", []string{"FINEGRAIN_TRAIN=3", "FINEGRAIN_TRAIN_EPOCH=7", "FINEGRAIN_LOG_CAM_IMAGES=100"},
			[]string{"$FINEGRAIN_TRAIN=", "$FINEGRAIN_TRAIN_EPOCH:", "log.cam_images: 100 (from $FINEGRAIN_LOG_CAM_IMAGES)"}},
		{"the project's own", append(slices.Clone(NonConfigEnv), "FINEGRAINED=1", "OTHER_FINEGRAIN_X=1"), nil},
		{"other variables", []string{"PATH=/bin", "TF_CPP_MIN_LOG_LEVEL=2", "=weird", "NOEQUALS"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadWith(t, "", nil, tc.env)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ps := problems(t, err)
			if len(ps) != len(tc.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(ps), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(ps[i], w) {
					t.Errorf("problem %d = %q, want it to start %q", i+1, ps[i], w)
				}
			}
		})
	}
}

// Precedence, with the environment given explicitly: -set over the environment over the file, and a
// key set twice by -set takes the last value.
func TestConfigEnvPrecedence(t *testing.T) {
	cfg, err := loadWith(t, "train:\n  epochs: 5\n  batch_size: 4\n  seed: 2\n",
		[]string{"train.epochs=6", "train.epochs=7"},
		[]string{"FINEGRAIN_TRAIN_EPOCHS=8", "FINEGRAIN_TRAIN_BATCH_SIZE=9", "FINEGRAIN_MODEL_PRETRAINED="})
	if err != nil {
		t.Fatal(err)
	}
	got := []any{cfg.Train.Epochs, cfg.Train.BatchSize, cfg.Train.Seed, cfg.Model.Pretrained}
	want := []any{7, 9, int64(2), ""}
	if !slices.Equal(got, want) {
		t.Fatalf("epochs, batch, seed, pretrained = %v, want %v", got, want)
	}
}

// Every key has its own variable, and none is a section's or one of the project's other variables, so
// that no variable can mean two things.
func TestConfigEnvNamesDistinct(t *testing.T) {
	specs := keySpecs()
	owner := map[string]string{}
	claim := func(name, what string) {
		if prev, ok := owner[name]; ok {
			t.Errorf("%s is the variable of both %s and %s", name, prev, what)
		}
		owner[name] = what
	}
	for _, k := range specs {
		claim(EnvName(k.Name), "key "+k.Name)
	}
	for s := range sectionNames(specs) {
		claim(EnvName(s), "section "+s)
	}
	for _, n := range NonConfigEnv {
		if n != strings.ToUpper(n) || !strings.HasPrefix(n, EnvPrefix+"_") {
			t.Errorf("NonConfigEnv holds %q: want FINEGRAIN_ and capitals", n)
		}
		claim(n, "NonConfigEnv")
	}
}

// NonConfigEnv names every FINEGRAIN_* variable that the repository's code, tests and scripts read;
// one missing would make every configuration load fail wherever it is set.
func TestNonConfigEnvListsEveryReader(t *testing.T) {
	goReaders := []*regexp.Regexp{
		regexp.MustCompile(`(?:Getenv|LookupEnv)\("(FINEGRAIN_[A-Z0-9_]+)"`), // by literal
		regexp.MustCompile(`=\s*"(FINEGRAIN_[A-Z0-9_]+)"`),                   // a constant read later
	}
	readers := map[string][]*regexp.Regexp{
		".go":      goReaders,
		".sh":      {regexp.MustCompile(`\$\{?(FINEGRAIN_[A-Z0-9_]+)`)},
		".py":      {regexp.MustCompile(`environ(?:\.get\(|\[)['"](FINEGRAIN_[A-Z0-9_]+)`)},
		"Makefile": {regexp.MustCompile(`\$[{(]?(FINEGRAIN_[A-Z0-9_]+)`)},
	}
	keyVars := map[string]bool{}
	for _, k := range keySpecs() {
		keyVars[EnvName(k.Name)] = true
	}
	found := map[string]string{}
	root := ".."
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".venv", "node_modules", "testdata", "runs", "data", "weights":
				return filepath.SkipDir
			}
			return nil
		}
		res := readers[filepath.Ext(p)]
		if d.Name() == "Makefile" || filepath.Ext(p) == ".mk" {
			res = readers["Makefile"]
		}
		if res == nil {
			return nil
		}
		text, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, re := range res {
			for _, m := range re.FindAllStringSubmatch(string(text), -1) {
				found[m[1]] = p
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("found no reader of a FINEGRAIN_* variable; the scan is broken")
	}
	for name, p := range found {
		if !keyVars[name] && !slices.Contains(NonConfigEnv, name) {
			t.Errorf("%s reads %s, which is neither a configuration key's variable nor in train.NonConfigEnv", p, name)
		}
	}
}

// configs/README.md lists the variables that are not keys, so that a user who sets one knows why it is
// accepted.
func TestReadmeListsNonConfigEnv(t *testing.T) {
	readme, err := os.ReadFile("../configs/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range NonConfigEnv {
		if !strings.Contains(string(readme), "`"+n+"`") {
			t.Errorf("configs/README.md does not name %s (train.NonConfigEnv)", n)
		}
	}
}

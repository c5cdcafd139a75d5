package train

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/configs"
)

// makeTree creates files (path → text) under dir.
func makeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, text := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A -config value that is not a file is looked up as NAME.yaml, configs/NAME and configs/NAME.yaml;
// a name found nowhere lists the configurations that exist and the nearest one.
func TestResolveConfig(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, map[string]string{
		"configs/csca_cars.yaml": "", "configs/demo.yaml": "", "configs/old.yml": "", "configs/sub/x.yaml": "",
		"configs/README.md": "", "local.yaml": "", "demo.yaml": "", "plain": "",
	})
	abs := filepath.Join(dir, "configs", "csca_cars.yaml")
	t.Chdir(dir)
	tests := []struct {
		name, want string
		errs       []string // substrings of the error; nil for none
	}{
		{"", "", nil},
		{"csca_cars.yaml", "configs/csca_cars.yaml", nil},
		{"csca_cars", "configs/csca_cars.yaml", nil},
		{"configs/csca_cars", "configs/csca_cars.yaml", nil},
		{"configs/csca_cars.yaml", "configs/csca_cars.yaml", nil},
		{"./csca_cars", "configs/csca_cars.yaml", nil},
		{"old.yml", "configs/old.yml", nil},
		{"sub/x", "configs/sub/x.yaml", nil},
		{abs, abs, nil},
		{"local", "local.yaml", nil},
		{"demo", "demo.yaml", nil}, // the working directory's file wins over configs/demo.yaml
		{"plain", "plain", nil},    // an existing path is taken as it is
		{"configs", "configs", nil},
		{"csca_car.yaml", "csca_car.yaml", []string{
			"read config: csca_car.yaml: no such file or directory (nor configs/csca_car.yaml)",
			"(did you mean csca_cars?)", "the configurations in configs/ are csca_cars, demo, old"}},
		{"csca_car", "csca_car", []string{"(nor csca_car.yaml, configs/csca_car, configs/csca_car.yaml)", "did you mean csca_cars?"}},
		{"resnet", "resnet", []string{"the configurations in configs/ are csca_cars, demo, old"}},
		{filepath.Join(dir, "missing.yaml"), filepath.Join(dir, "missing.yaml"), []string{"read config: " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := configs.Resolve(tc.name)
			if got != tc.want {
				t.Errorf("configs.Resolve(%q) = %q, want %q", tc.name, got, tc.want)
			}
			if tc.errs == nil {
				if err != nil {
					t.Errorf("error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.errs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if filepath.IsAbs(tc.name) && strings.Contains(err.Error(), "configurations in") {
				t.Errorf("an absolute path is not looked up in configs/, so the error should not list it: %v", err)
			}
		})
	}
}

// Without a configs/ directory, the message says where names are looked up and what to do.
func TestResolveConfigWithoutConfigDir(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := configs.Resolve("csca_cars")
	if err == nil || !strings.Contains(err.Error(), "run from the repository root, or give the file's path") {
		t.Fatalf("error = %v", err)
	}
}

// The flags of every command resolve -config when parsed, so the run directory and the dry run name
// the file found; Load reports a name found nowhere.
func TestConfigFlagsResolve(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, map[string]string{"configs/csca_cars.yaml": "model:\n  attention: ca\ndata:\n  root: " + dir + "\n"})
	t.Chdir(dir)
	parse := func(args ...string) *ConfigFlags {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var cf ConfigFlags
		cf.Register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return &cf
	}
	for _, name := range []string{"csca_cars", "csca_cars.yaml", "configs/csca_cars.yaml"} {
		cf := parse("-config", name, "-set", "train.epochs=3")
		if cf.Path != "configs/csca_cars.yaml" || DefaultRunDir(cf.Path) != filepath.Join("runs", "csca_cars") {
			t.Errorf("-config %s: Path %q, run dir %q", name, cf.Path, DefaultRunDir(cf.Path))
		}
		cfg, err := cf.Load(true)
		if err != nil {
			t.Fatalf("-config %s: %v", name, err)
		}
		if cfg.Model.Attention != "ca" || cfg.Train.Epochs != 3 {
			t.Errorf("-config %s loaded attention %s, epochs %d", name, cfg.Model.Attention, cfg.Train.Epochs)
		}
		if cfg, err := cf.LoadFile(); err != nil || cfg.Train.Epochs != Default().Train.Epochs {
			t.Errorf("-config %s: LoadFile applied -set or failed: %v", name, err)
		}
	}
	cf := parse("-config", "csca_car")
	if cf.Path != "csca_car" {
		t.Errorf("an unresolved name became %q", cf.Path)
	}
	for _, load := range []func() (*Config, error){func() (*Config, error) { return cf.Load(false) }, cf.LoadFile} {
		if _, err := load(); err == nil || !strings.Contains(err.Error(), "did you mean csca_cars?") {
			t.Errorf("load of a missing name: %v", err)
		}
	}
	// ConfigFlags filled in Go rather than by flags resolve the same way.
	direct := &ConfigFlags{Path: "csca_cars"}
	if _, err := direct.Load(true); err != nil || direct.Path != "configs/csca_cars.yaml" {
		t.Errorf("direct Load: path %q, %v", direct.Path, err)
	}
}

// From the repository root every shipped configuration resolves by its bare name and loads (paths are
// not checked: the datasets and weights are not part of the repository).
func TestShippedConfigsResolveByName(t *testing.T) {
	t.Chdir("..")
	names, err := configs.Names()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 17 {
		t.Fatalf("configs/ lists %d files: %v", len(names), names)
	}
	for _, n := range names {
		stem := strings.TrimSuffix(n, filepath.Ext(n))
		p, err := configs.Resolve(stem)
		if err != nil || p != filepath.Join(configs.Dir, n) {
			t.Errorf("configs.Resolve(%q) = %q, %v", stem, p, err)
			continue
		}
		sets := []string{}
		if n == "defaults.yaml" {
			sets = append(sets, "data.root=/data") // the defaults alone name no dataset
		}
		if _, err := Load(LoadOptions{Path: p, Sets: sets, Env: []string{}}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

package train

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ConfigDir is where a -config name that is not a file is looked up: the repository's configs/,
// relative to the working directory. The directory on disk is used, not a copy built into the binary:
// the file a user reads and edits is then the one a run uses, messages name a real file, and the
// shipped configurations name their datasets and weights relative to the repository root anyway
// (data/..., weights/...), so they are only meaningful from there.
const ConfigDir = "configs"

// ConfigFlags are the -config and -set flags that every command reading a configuration takes.
type ConfigFlags struct {
	// Path is -config resolved by ResolveConfig when the flag is parsed (configs/csca_cars.yaml for
	// "csca_cars"), or as given when it names nothing; Load then says what exists.
	Path string
	Sets []string
}

// Register adds -config and -set to fs.
func (c *ConfigFlags) Register(fs *flag.FlagSet) {
	fs.Func("config", "configuration `file` (YAML; keys missing from it take configs/defaults.yaml's values); a name that is not a file here is looked up in "+ConfigDir+"/, with or without .yaml (-config csca_cars)", func(s string) error {
		// A name that resolves to nothing is kept as given: Load reports it with the list of
		// configurations, which reads better than the flag package's usage dump.
		c.Path = s
		if p, err := ResolveConfig(s); err == nil {
			c.Path = p
		}
		return nil
	})
	fs.Func("set", "override one configuration key, `key=value` (repeatable, the last one wins; value is YAML, e.g. -set train.epochs=3 -set model.attention_stages=[3,4]); environment variables "+EnvPrefix+"_<KEY> (e.g. "+EnvName("train.epochs")+") override the file too, -set overrides them", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("want key=value, got %q", s)
		}
		c.Sets = append(c.Sets, s)
		return nil
	})
}

// Load resolves the configuration the flags name; checkPaths also requires the dataset and weight
// files to exist.
func (c *ConfigFlags) Load(checkPaths bool) (*Config, error) {
	p, err := ResolveConfig(c.Path)
	if err != nil {
		return nil, err
	}
	c.Path = p
	return Load(LoadOptions{Path: c.Path, Sets: c.Sets, CheckPaths: checkPaths})
}

// LoadModel is Load(false) for a command that reads no dataset: data.root may be missing.
func (c *ConfigFlags) LoadModel() (*Config, error) {
	p, err := ResolveConfig(c.Path)
	if err != nil {
		return nil, err
	}
	c.Path = p
	return Load(LoadOptions{Path: c.Path, Sets: c.Sets, NoData: true})
}

// LoadFile is the configuration of -config alone: without -set, and without checking paths (cmd/train
// -resume reads the run directory from it).
func (c *ConfigFlags) LoadFile() (*Config, error) {
	p, err := ResolveConfig(c.Path)
	if err != nil {
		return nil, err
	}
	c.Path = p
	return Load(LoadOptions{Path: c.Path})
}

// ResolveConfig is the configuration file that a -config value names: the value itself if it exists,
// else the first existing file of NAME.yaml, ConfigDir/NAME and ConfigDir/NAME.yaml (the suffix is tried
// only when NAME has no .yaml or .yml; ConfigDir only for a relative NAME). A file in the working
// directory thus wins over one of the same name in configs/. When none exists, the error lists the
// configurations in ConfigDir and the nearest name.
func ResolveConfig(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	if _, err := os.Stat(name); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return name, nil // exists, or cannot be checked: reading it says why
	}
	withSuffix := func(p string) []string {
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml":
			return []string{p}
		}
		return []string{p, p + ".yaml"}
	}
	tried := withSuffix(name)
	if !filepath.IsAbs(name) {
		tried = append(tried, withSuffix(filepath.Join(ConfigDir, name))...)
	}
	for _, p := range tried[1:] {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	msg := fmt.Sprintf("read config: %s: no such file or directory", name)
	if len(tried) > 1 {
		msg += " (nor " + strings.Join(tried[1:], ", ") + ")"
	}
	if filepath.IsAbs(name) {
		return name, errors.New(msg)
	}
	names, err := configNames()
	switch {
	case err != nil:
		msg += fmt.Sprintf("; a name is looked up in %s/ of the working directory, which has none: run from the repository root, or give the file's path", ConfigDir)
	case len(names) == 0:
		msg += fmt.Sprintf("; %s/ holds no .yaml file", ConfigDir)
	default:
		stem := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
		stems := make([]string, len(names))
		for i, n := range names {
			stems[i] = strings.TrimSuffix(n, filepath.Ext(n))
		}
		if best, ok := closest(stem, stems); ok {
			msg += fmt.Sprintf(" (did you mean %s?)", best)
		}
		msg += fmt.Sprintf("; the configurations in %s/ are %s", ConfigDir, strings.Join(stems, ", "))
	}
	return name, errors.New(msg)
}

// configNames lists the YAML files of ConfigDir.
func configNames() ([]string, error) {
	entries, err := os.ReadDir(ConfigDir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", ConfigDir, err)
	}
	var names []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml":
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

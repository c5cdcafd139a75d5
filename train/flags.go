package train

import (
	"flag"
	"fmt"
	"strings"

	"github.com/finegrain/finegrain/configs"
)

// ConfigFlags are the -config and -set flags that every command reading a configuration takes.
type ConfigFlags struct {
	// Path is -config resolved by configs.Resolve when the flag is parsed (configs/csca_cars.yaml for
	// "csca_cars"), or as given when it names nothing; Load then says what exists.
	Path string
	Sets []string
}

// Register adds -config and -set to fs.
func (c *ConfigFlags) Register(fs *flag.FlagSet) {
	fs.Func("config", "configuration `file` (YAML; keys missing from it take configs/defaults.yaml's values); a name that is not a file here is looked up in "+configs.Dir+"/, with or without .yaml (-config csca_cars)", func(s string) error {
		// A name that resolves to nothing is kept as given: Load reports it with the list of
		// configurations, which reads better than the flag package's usage dump.
		c.Path = s
		if p, err := configs.Resolve(s); err == nil {
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
	p, err := configs.Resolve(c.Path)
	if err != nil {
		return nil, err
	}
	c.Path = p
	return Load(LoadOptions{Path: c.Path, Sets: c.Sets, CheckPaths: checkPaths})
}

// LoadModel is Load(false) for a command that reads no dataset: data.root may be missing.
func (c *ConfigFlags) LoadModel() (*Config, error) {
	p, err := configs.Resolve(c.Path)
	if err != nil {
		return nil, err
	}
	c.Path = p
	return Load(LoadOptions{Path: c.Path, Sets: c.Sets, NoData: true})
}

// LoadFile is the configuration of -config alone: without -set, and without checking paths (cmd/train
// -resume reads the run directory from it).
func (c *ConfigFlags) LoadFile() (*Config, error) {
	p, err := configs.Resolve(c.Path)
	if err != nil {
		return nil, err
	}
	c.Path = p
	return Load(LoadOptions{Path: c.Path})
}

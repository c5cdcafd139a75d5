package train

import (
	"flag"
	"fmt"
	"strings"
)

// ConfigFlags are the -config and -set flags that every command reading a configuration takes.
type ConfigFlags struct {
	Path string
	Sets []string
}

// Register adds -config and -set to fs.
func (c *ConfigFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Path, "config", "", "configuration `file` (YAML; keys missing from it take configs/defaults.yaml's values)")
	fs.Func("set", "override one configuration key, `key=value` (repeatable; value is YAML, e.g. -set train.epochs=3 -set model.attention_stages=[3,4]); environment variables "+EnvPrefix+"_<KEY> (e.g. "+EnvName("train.epochs")+") override the file too, -set overrides them", func(s string) error {
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
	return Load(LoadOptions{Path: c.Path, Sets: c.Sets, CheckPaths: checkPaths})
}

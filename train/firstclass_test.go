package train

import (
	"strings"
	"testing"
)

// data.synthetic.first_class is checked against the generator's species count, with the key, the
// value and the largest first class the configured class count allows; in range it reaches the
// generator's configuration.
func TestSyntheticFirstClass(t *testing.T) {
	for _, tt := range []struct {
		name string
		sets []string
		want string // a problem's text; "" for a valid configuration
	}{
		{"default", nil, ""},
		{"the protocol's fine-grained set", []string{"data.synthetic.first_class=100"}, ""},
		{"the last species", []string{"data.synthetic.first_class=385"}, ""},
		{"past the last species", []string{"data.synthetic.first_class=386"},
			"data.synthetic.first_class: 386: want 0 to 385: the generator has 405 species, and first_class + data.synthetic.classes (20) must be at most 405"},
		{"negative", []string{"data.synthetic.first_class=-1"}, "data.synthetic.first_class: -1: want 0 to 385"},
		{"more classes leave less room", []string{"data.synthetic.classes=100", "data.synthetic.first_class=306"}, "want 0 to 305"},
		{"a bad class count is reported once", []string{"data.synthetic.classes=1000", "data.synthetic.first_class=1"}, "want 0 to 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadWith(t, "data.format: synthetic\n", tt.sets, nil)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got, want := cfg.Data.SynthConfig().FirstClass, cfg.Data.Synthetic.FirstClass; got != want {
					t.Errorf("generator first class %d, want %d", got, want)
				}
				if err := cfg.Data.SynthConfig().Validate(); err != nil {
					t.Errorf("the generator refuses a valid configuration: %v", err)
				}
				return
			}
			found := false
			for _, p := range problems(t, err) {
				found = found || strings.Contains(p, tt.want)
			}
			if !found {
				t.Errorf("problems %q, want one containing %q", problems(t, err), tt.want)
			}
		})
	}
}

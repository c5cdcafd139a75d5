package synth

import (
	"fmt"
	"strings"
)

// The part attributes that define a species, in the order they vary along the class sequence.
const (
	attrWingBar = iota
	attrEyeRing
	attrCrest
	attrTail
	attrBeak
	numAttrs
)

// attribute is one part attribute: its name, its values, and the word each value adds to a species
// name ("" adds none).
type attribute struct {
	name   string
	values []string
	words  []string
}

var attributes = [numAttrs]attribute{
	attrWingBar: {"wing_bar", []string{"red", "yellow", "white", "blue", "black"},
		[]string{"Red_barred", "Yellow_barred", "White_barred", "Blue_barred", "Black_barred"}},
	attrEyeRing: {"eye_ring", []string{"none", "white", "yellow"}, []string{"", "Spectacled", "Gold_eyed"}},
	attrCrest:   {"crest", []string{"none", "tuft", "crest"}, []string{"", "Tufted", "Crested"}},
	attrTail:    {"tail", []string{"plain", "banded", "white_tipped"}, []string{"", "Band_tailed", "White_tipped"}},
	attrBeak:    {"beak", []string{"conical", "thin", "hooked"}, []string{"Finch", "Warbler", "Shrike"}},
}

// MaxClasses is the number of distinct species: every combination of the part attributes.
const MaxClasses = 5 * 3 * 3 * 3 * 3

// Species is one class of the benchmark.
type Species struct {
	ID int // 0-based class id in its benchmark
	// Index is the species' place in the order of all MaxClasses species (FirstClass+ID). It alone
	// fixes the species' attributes and, with the seed, its images and split, so a species looks the
	// same in every benchmark that holds it, whatever its class id there.
	Index      int
	Name       string            // e.g. "Red_barred_Tufted_Finch"
	Attributes map[string]string // attribute name → value, e.g. "wing_bar" → "red"
	attrs      [numAttrs]int
}

// AttributeNames returns the names of the part attributes, in the order species vary them.
func AttributeNames() []string {
	out := make([]string, numAttrs)
	for i, a := range attributes {
		out[i] = a.name
	}
	return out
}

// speciesOf returns species k (class k of a benchmark that starts at the first species): the k-th
// combination in a reflected mixed-radix Gray code, so species k and k+1 differ in exactly one
// attribute.
func speciesOf(k int) Species {
	sp := Species{ID: k, Index: k, Attributes: map[string]string{}}
	block := 1 // product of the radices of the lower attributes, and this one
	var words []string
	for i, a := range attributes {
		r := len(a.values)
		d := (k / block) % r
		if (k/(block*r))%2 == 1 { // reflected when the higher prefix is odd
			d = r - 1 - d
		}
		block *= r
		sp.attrs[i] = d
		sp.Attributes[a.name] = a.values[d]
	}
	for _, i := range []int{attrWingBar, attrEyeRing, attrCrest, attrTail, attrBeak} {
		if w := attributes[i].words[sp.attrs[i]]; w != "" {
			words = append(words, w)
		}
	}
	sp.Name = strings.Join(words, "_")
	return sp
}

// Classes returns the species of a benchmark, in class-id order: species cfg.FirstClass onwards.
func Classes(cfg Config) ([]Species, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	out := make([]Species, cfg.Classes)
	for k := range out {
		out[k] = speciesOf(cfg.FirstClass + k)
		out[k].ID = k
	}
	return out, nil
}

// folder is the CUB-style folder name of a species: "001.Red_barred_Finch".
func (sp Species) folder() string { return fmt.Sprintf("%03d.%s", sp.ID+1, sp.Name) }

package nets

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Text (JSON, YAML) keeps every word as written, a wrong one included, for Validate to name under its key.
func TestVocabularyText(t *testing.T) {
	for _, tc := range []struct {
		text string
		into func(string) (string, error) // decodes the text into one of the types, re-encoded
	}{
		{"csca", decodeJSON[Attention]}, {"none", decodeJSON[Attention]}, {"CSCA", decodeJSON[Attention]}, {"", decodeJSON[Attention]},
		{"residual", decodeJSON[GateForm]}, {"bam", decodeJSON[GateForm]},
		{"sequential", decodeJSON[CSCAFusion]}, {"serial", decodeJSON[CSCAFusion]},
		{"sa", decodeYAML[Attention]}, {"transformer", decodeYAML[Attention]}, {"plain", decodeYAML[GateForm]}, {"parallel", decodeYAML[CSCAFusion]},
	} {
		if got, err := tc.into(tc.text); err != nil || got != tc.text {
			t.Errorf("%q: got %q, %v; want it back", tc.text, got, err)
		}
	}
	c := DefaultConfig()
	if err := json.Unmarshal([]byte(`{"attention": "cbam", "csca_fusion": "serial"}`), &c); err != nil {
		t.Fatal(err)
	}
	if p := c.Problems(); len(p) != 2 || p[0].Error() != `model.attention "cbam": want one of none, fcn, ca, sa, csca` ||
		p[1].Error() != `model.csca_fusion "serial": want one of parallel, sequential` {
		t.Errorf("problems %v, want the attention and the fusion named", p)
	}
}

// Parsing a single value refuses a word that is not one of the type's, naming the values.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		parse   func(string) (string, error)
		text    string
		wantErr string // "" = parses
	}{
		{parsed(ParseAttention), "fcn", ""},
		{parsed(ParseAttention), "CSCA", `attention "CSCA": want one of none, fcn, ca, sa, csca`},
		{parsed(ParseAttention), "", `attention "": want one of`},
		{parsed(ParseGateForm), "residual", ""},
		{parsed(ParseGateForm), "bam", `gate form "bam": want one of plain, residual`},
		{parsed(ParseCSCAFusion), "sequential", ""},
		{parsed(ParseCSCAFusion), "serial", `csca fusion "serial": want one of parallel, sequential`},
	} {
		got, err := tc.parse(tc.text)
		switch {
		case tc.wantErr == "" && (err != nil || got != tc.text):
			t.Errorf("%q: got %q, %v", tc.text, got, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want one containing %q", tc.text, err, tc.wantErr)
		}
	}
}

func parsed[T ~string](parse func(string) (T, error)) func(string) (string, error) {
	return func(s string) (string, error) {
		v, err := parse(s)
		return string(v), err
	}
}

func decodeJSON[T interface {
	~string
	MarshalText() ([]byte, error)
}](s string) (string, error) {
	b, _ := json.Marshal(s)
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	var back string
	if err == nil {
		err = json.Unmarshal(out, &back)
	}
	return back, err
}

func decodeYAML[T interface{ ~string }](s string) (string, error) {
	var v struct {
		X T `yaml:"x"`
	}
	if err := yaml.Unmarshal([]byte("x: "+s), &v); err != nil {
		return "", err
	}
	out, err := yaml.Marshal(v)
	return strings.TrimSpace(strings.TrimPrefix(string(out), "x:")), err
}

// The lists are in the paper's order, and copies: a caller cannot change the vocabulary.
func TestVocabularyLists(t *testing.T) {
	if got, want := Variants(), []string{"none", "fcn", "ca", "sa", "csca"}; !slices.Equal(got, want) {
		t.Errorf("Variants() = %v, want %v", got, want)
	}
	a := Attentions()
	a[0] = "bam"
	if Attentions()[0] != AttentionNone {
		t.Error("Attentions returns the package's own slice")
	}
	for _, tc := range []struct {
		a                     Attention
		gated, channel, parse bool
	}{
		{AttentionNone, false, false, true}, {AttentionFCN, false, false, true},
		{AttentionCA, true, true, true}, {AttentionSA, true, false, true}, {AttentionCSCA, true, true, true},
		{"bam", false, false, false},
	} {
		_, err := ParseAttention(string(tc.a))
		if tc.a.Gated() != tc.gated || tc.a.HasChannelGate() != tc.channel || (err == nil) != tc.parse {
			t.Errorf("%s: Gated %v, HasChannelGate %v, parse error %v", tc.a, tc.a.Gated(), tc.a.HasChannelGate(), err)
		}
	}
	if !slices.Equal(names(GateForms()), []string{"plain", "residual"}) || !slices.Equal(names(CSCAFusions()), []string{"parallel", "sequential"}) {
		t.Errorf("GateForms %v, CSCAFusions %v", GateForms(), CSCAFusions())
	}
}

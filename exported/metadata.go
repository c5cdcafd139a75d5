package exported

import (
	"encoding/json"
	"fmt"

	"github.com/finegrain/finegrain/nets"
)

// Metadata describes an exported model; it is stored as assets/metadata.json. The network is Net
// alone: the file also carries its variant, depth and class count at the top level ("variant",
// "depth", "num_classes"), for the readers that look there (cmd/serve's page, scripts), and reading
// checks that they agree with "net".
type Metadata struct {
	Dataset    string             `json:"dataset,omitempty"`
	ImageSize  int                `json:"image_size"`  // the side of the images input
	ResizeSize int                `json:"resize_size"` // predict_jpeg's shorter side before the crop
	Net        nets.Config        `json:"net"`
	Config     json.RawMessage    `json:"config,omitempty"`  // the resolved training configuration
	Metrics    map[string]float64 `json:"metrics,omitempty"` // for example test_top1
	TensorFlow string             `json:"tensorflow_version"`
}

// metadataFields is Metadata without its JSON methods.
type metadataFields Metadata

// MarshalJSON writes Metadata with the net's variant, depth and class count also at the top level.
func (m Metadata) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Variant    nets.Attention `json:"variant"`
		Depth      int            `json:"depth"`
		NumClasses int            `json:"num_classes"`
		metadataFields
	}{m.Net.Attention, m.Net.Depth, m.Net.NumClasses, metadataFields(m)})
}

// UnmarshalJSON reads what MarshalJSON writes. A top-level variant, depth or class count that
// contradicts "net" is an error; a file without "net" takes them as the net's.
func (m *Metadata) UnmarshalJSON(b []byte) error {
	var w struct {
		Variant    *nets.Attention `json:"variant"`
		Depth      *int            `json:"depth"`
		NumClasses *int            `json:"num_classes"`
		Net        json.RawMessage `json:"net"`
		metadataFields
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = Metadata(w.metadataFields)
	if w.Net == nil { // only the top-level fields: they are all there is of the net
		if w.Variant != nil {
			m.Net.Attention = *w.Variant
		}
		if w.Depth != nil {
			m.Net.Depth = *w.Depth
		}
		if w.NumClasses != nil {
			m.Net.NumClasses = *w.NumClasses
		}
		return nil
	}
	if err := json.Unmarshal(w.Net, &m.Net); err != nil {
		return fmt.Errorf("net: %w", err)
	}
	switch n := m.Net; {
	case w.Variant != nil && *w.Variant != n.Attention:
		return fmt.Errorf("variant %q disagrees with net.attention %q", *w.Variant, n.Attention)
	case w.Depth != nil && *w.Depth != n.Depth:
		return fmt.Errorf("depth %d disagrees with net.depth %d", *w.Depth, n.Depth)
	case w.NumClasses != nil && *w.NumClasses != n.NumClasses:
		return fmt.Errorf("num_classes %d disagrees with net.num_classes %d", *w.NumClasses, n.NumClasses)
	}
	return nil
}

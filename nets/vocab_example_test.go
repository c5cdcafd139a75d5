package nets_test

import (
	"encoding/json"
	"fmt"

	"github.com/finegrain/finegrain/nets"
)

// A variant read from a flag, and the configuration words a run's files keep.
func ExampleParseAttention() {
	a, err := nets.ParseAttention("csca")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a, a.Gated(), a.HasChannelGate())
	_, err = nets.ParseAttention("cbam")
	fmt.Println(err)

	cfg := nets.DefaultConfig()
	cfg.Attention, cfg.GateForm = a, nets.GateResidual
	b, err := json.Marshal(struct {
		A nets.Attention `json:"attention"`
		F nets.GateForm  `json:"gate_form"`
	}{cfg.Attention, cfg.GateForm})
	fmt.Println(string(b), err)
	// Output:
	// csca true true
	// attention "cbam": want one of none, fcn, ca, sa, csca
	// {"attention":"csca","gate_form":"residual"} <nil>
}

package ops_test

import (
	"fmt"

	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/finegrain/finegrain/ops"
)

// Mixed precision is a session setting: TensorFlow's automatic mixed precision graph rewrite, which
// computes in float16 on GPUs and leaves a CPU graph as it is.
func ExampleSessionConfig_Options() {
	sc := ops.DefaultSessionConfig()
	sc.MixedPrecision = true
	opts, err := sc.Options()
	if err != nil {
		fmt.Println(err)
		return
	}
	cp := &pb.ConfigProto{}
	if err := proto.Unmarshal(opts.Config, cp); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cp.GraphOptions.RewriteOptions.AutoMixedPrecision)
	// Output: ON
}

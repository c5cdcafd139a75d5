package train_test

import (
	"fmt"

	"github.com/finegrain/finegrain/train"
)

// Two workers with two GPUs each make four towers; the variables live on the first.
func ExamplePlacementOf() {
	cfg := train.Default()
	cfg.Cluster.Workers = []string{"gpu0.lan:2222", "gpu1.lan:2222"}
	cfg.Runtime.Devices = []string{"/device:GPU:0", "/device:GPU:1"}
	p, err := train.PlacementOf(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Target())
	fmt.Println(p.Param)
	fmt.Println(len(p.Devices), p.Devices[3])
	// Output:
	// grpc://gpu0.lan:2222
	// /job:worker/replica:0/task:0/device:GPU:0
	// 4 /job:worker/replica:0/task:1/device:GPU:1
}

package train_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/finegrain/finegrain/train"
)

// A partial configuration is completed from configs/defaults.yaml; -set overrides win over the file.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "run.yaml")
	os.WriteFile(path, []byte("model:\n  attention: ca\ndata:\n  root: "+dir+"\n"), 0o644)
	cfg, err := train.Load(train.LoadOptions{Path: path, Sets: []string{"train.epochs=3"}, CheckPaths: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Model.Attention, cfg.Model.Depth, cfg.Train.Epochs, cfg.Train.Optimizer)
	// Output: ca 50 3 sgd
}

// Every problem is reported at once, each naming its key.
func ExampleConfigError() {
	_, err := train.Load(train.LoadOptions{Sets: []string{"model.depth=20", "train.epoch=3", "data.root=/data"}})
	var ce *train.ConfigError
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// -set train.epoch: unknown key (did you mean train.epochs?)
	// model.depth: 20: want 18, 34, 50 or 101
}

// The learning rate of a step: linear warm-up, then cosine decay.
func ExampleSchedule_At() {
	cfg := train.Default().Train
	cfg.LR, cfg.Epochs, cfg.WarmupEpochs = 0.01, 10, 1
	s := train.NewSchedule(cfg, 100)
	for _, step := range []int64{0, 49, 100, 550, 999} {
		fmt.Printf("step %d: %.5f\n", step, s.At(step))
	}
	// Output:
	// step 0: 0.00010
	// step 49: 0.00500
	// step 100: 0.01000
	// step 550: 0.00500
	// step 999: 0.00000
}

func ExampleEnvName() {
	fmt.Println(train.EnvName("train.batch_size"))
	// Output: FINEGRAIN_TRAIN_BATCH_SIZE
}

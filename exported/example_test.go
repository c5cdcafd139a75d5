package exported_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/nets"
)

// Example exports a small (untrained) model and serves it: Load, then concurrent single-image
// requests through a Batcher.
func Example() {
	tmp, err := os.MkdirTemp("", "finegrain-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "model")

	cfg := nets.DefaultConfig()
	cfg.Depth, cfg.WidthMultiplier, cfg.NumClasses = 18, 0.125, 3
	spec := exported.Spec{
		Net:        cfg,
		Preprocess: exported.Preprocess{ResizeSize: 36, ImageSize: 32},
		Labels:     []string{"heron", "ibis", "stork"},
	}
	// With a training run: exported.FromCheckpoint("runs/x/checkpoints/ckpt-10") instead of nil.
	if err := exported.Export(context.Background(), dir, spec, nil); err != nil {
		log.Fatal(err)
	}

	m, err := exported.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	b := exported.NewBatcher(m, exported.BatchConfig{MaxBatch: 8})
	defer b.Close()

	var wg sync.WaitGroup
	tops := make([]exported.Class, 4)
	for i := range tops {
		wg.Add(1)
		go func() { // one request per client, batched together by b
			defer wg.Done()
			img := exported.Images{N: 1, Height: m.InputSize(), Width: m.InputSize(), Pix: make([]float32, m.InputSize()*m.InputSize()*3)}
			for j := range img.Pix {
				img.Pix[j] = float32((j*7 + i*31) % 256)
			}
			p, err := b.Predict(context.Background(), img)
			if err != nil {
				log.Fatal(err)
			}
			tops[i] = m.TopK(p.Probabilities[0], 1)[0]
		}()
	}
	wg.Wait()
	fmt.Println("input", m.InputSize(), "classes", m.Labels())
	for i, c := range tops {
		fmt.Printf("request %d: a label of the model: %v\n", i, c.Label == m.Label(c.ID))
	}
	// Output:
	// input 32 classes [heron ibis stork]
	// request 0: a label of the model: true
	// request 1: a label of the model: true
	// request 2: a label of the model: true
	// request 3: a label of the model: true
}

// ExampleModel_PredictEncoded classifies image files, decoding them in the graph (predict_jpeg), and
// names the file behind a bad image. (Compiled, not run: it needs a model directory.)
func ExampleModel_PredictEncoded() {
	m, err := exported.Load("runs/demo/export")
	if err != nil {
		log.Fatal(err) // names the directory and what is wrong with it
	}
	defer m.Close()
	files := []string{"bird1.jpg", "bird2.png"}
	var data [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		data = append(data, b)
	}
	p, err := m.PredictEncoded(context.Background(), data)
	var bad *exported.ImageError
	if errors.As(err, &bad) {
		log.Fatalf("%s: %v", files[bad.Index], bad.Err)
	} else if err != nil {
		log.Fatal(err)
	}
	for i, f := range files {
		for _, c := range m.TopK(p.Probabilities[i], 3) {
			fmt.Printf("%s\t%s\t%.3f\n", f, c.Label, c.Probability)
		}
	}
}

package pipeline_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/finegrain/finegrain/pipeline"
)

// A tf.data-style chain: square numbers on two goroutines, in order, in batches of three.
func ExampleMap() {
	squares := pipeline.Map(pipeline.FromSlice([]int{1, 2, 3, 4, 5, 6, 7}), 2, true,
		func(_ context.Context, x int) (int, error) { return x * x, nil })
	it := pipeline.Batched(squares, 3, false).Open(context.Background(), 0)
	defer it.Close()
	for {
		b, err := it.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(b)
	}
	// Output:
	// [1 4 9]
	// [16 25 36]
	// [49]
}

// One epoch of the training pipeline over a tiny generated data set.
func ExampleNewTrain() {
	dir, err := os.MkdirTemp("", "pipeline-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var records []pipeline.Record
	for i := range 6 {
		path := filepath.Join(dir, fmt.Sprintf("%d.jpg", i))
		if err := writeGradient(path, 80+i, 60); err != nil {
			log.Fatal(err)
		}
		records = append(records, pipeline.Record{Path: path, Label: i % 2})
	}

	cfg := pipeline.DefaultConfig()
	cfg.ImageSize, cfg.ResizeSize, cfg.BatchSize, cfg.Workers = 32, 36, 4, 2
	cfg.Seed = 1
	ctx := context.Background()
	loader, err := pipeline.NewTrain(ctx, records, cfg, 0) // epoch 0
	if err != nil {
		log.Fatal(err)
	}
	defer loader.Close()
	for {
		batch, err := loader.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		// A trainer would do tf.ReadTensor(tf.Float, shape, bytes.NewReader(batch.Bytes())) here.
		fmt.Println(batch.Shape, len(batch.Bytes()), len(batch.Labels))
		batch.Release()
	}
	// Output:
	// [4 32 32 3] 49152 4
}

// Preprocessing one image the way evaluation does.
func ExampleEvalImage() {
	img := image.NewGray(image.Rect(0, 0, 300, 200))
	cfg := pipeline.DefaultConfig()
	cfg.ResizeSize, cfg.ImageSize = 256, 224
	values, err := pipeline.EvalImage(img, cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(values) == 224*224*3)
	// Output: true
}

func writeGradient(path string, w, h int) error {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 3), uint8(y * 4), 128, 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := jpeg.Encode(f, img, nil); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

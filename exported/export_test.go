package exported_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"golang.org/x/image/bmp"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/internal/pyref"
	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/pipeline"
)

// tinyNet is a ResNet-18 with CSCA gates at 1/8 width: the real architecture, small enough for tests.
func tinyNet(classes int) nets.Config {
	cfg := nets.DefaultConfig()
	cfg.Attention, cfg.Depth, cfg.WidthMultiplier, cfg.NumClasses = "csca", 18, 0.125, classes
	return cfg
}

// noisyWeights moves every variable away from its initial value by seeded noise (batch-norm variances
// stay positive), standing in for trained weights: a model that restored nothing would differ.
func noisyWeights(seed uint64) exported.Weights {
	return func(_ context.Context, sess *tf.Session, g *ops.Graph) error {
		rng := rand.New(rand.NewPCG(seed, seed+1))
		vars := g.Variables()
		values := make([]tf.Output, len(vars))
		for i, v := range vars {
			values[i] = v.Value
		}
		out, err := sess.Run(nil, values, nil)
		if err != nil {
			return err
		}
		feeds := map[tf.Output]*tf.Tensor{}
		assigns := make([]*tf.Operation, len(vars))
		for i, v := range vars {
			vals := flattenAny(out[i].Value())
			for j := range vals {
				if strings.HasSuffix(v.Name, "moving_variance") {
					vals[j] = 0.5 + rng.Float32()
				} else {
					vals[j] += float32(0.1 * rng.NormFloat64())
				}
			}
			t, err := tf.NewTensor(vals)
			if err != nil {
				return err
			}
			if err := t.Reshape(v.Shape); err != nil {
				return err
			}
			feeds[v.Feed], assigns[i] = t, v.AssignFeed
		}
		_, err = sess.Run(feeds, nil, assigns)
		return err
	}
}

// flattenAny reduces a tensor value of rank 1..4 to []float32.
func flattenAny(v any) []float32 {
	switch x := v.(type) {
	case [][][]float32:
		var out []float32
		for _, a := range x {
			out = append(out, flat32(a)...)
		}
		return out
	case [][][][]float32:
		return flat32(x)
	}
	return flat32(v)
}

// testImage is a smooth random image (gradients and blobs, like a photograph) so that JPEG coding
// error stays small.
func testImage(rng *rand.Rand, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	var c [3][4]float64
	for k := range c {
		for j := range c[k] {
			c[k][j] = rng.Float64()
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			u, v := float64(x)/float64(w), float64(y)/float64(h)
			var px [3]uint8
			for k := range px {
				f := 0.5 + 0.25*math.Sin(6*c[k][0]*u+4*c[k][1]*v+6*c[k][2]) + 0.25*math.Cos(9*c[k][3]*u*v)
				px[k] = uint8(math.Round(255 * math.Min(1, math.Max(0, f))))
			}
			img.SetRGBA(x, y, color.RGBA{px[0], px[1], px[2], 255})
		}
	}
	return img
}

func encode(t *testing.T, img image.Image, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// exportTiny exports tinyNet with noisy weights and returns the directory.
func exportTiny(t *testing.T) (string, exported.Spec) {
	t.Helper()
	spec := exported.Spec{
		Net:        tinyNet(5),
		Preprocess: exported.Preprocess{ResizeSize: 40, ImageSize: 32},
		Labels:     []string{"albatross", "bunting", "cardinal", "dipper", "egret"},
		Dataset:    "synthetic",
		Metrics:    map[string]float64{"test_top1": 0.5},
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := exported.Export(context.Background(), dir, spec, noisyWeights(7)); err != nil {
		t.Fatal(err)
	}
	return dir, spec
}

// TestExport exports one small model and checks it from every side: Go predictions and their
// invariants, bad inputs, concurrency, Python TensorFlow on both signatures, and saved_model_cli.
func TestExport(t *testing.T) {
	dir, _ := exportTiny(t)
	m, err := exported.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	t.Run("metadata", func(t *testing.T) { checkMetadata(t, m) })
	t.Run("predict", func(t *testing.T) { checkPredict(t, m) })
	t.Run("bad inputs", func(t *testing.T) { checkBadInputs(t, m) })
	t.Run("concurrent", func(t *testing.T) { checkConcurrent(t, m) })
	t.Run("damaged copies", func(t *testing.T) { checkDamaged(t, dir) })
	t.Run("batcher", func(t *testing.T) { checkBatcher(t, m) })
	t.Run("predict_jpeg vs pipeline", func(t *testing.T) { checkEvalPipeline(t, m) })
	t.Run("python", func(t *testing.T) {
		if testing.Short() {
			t.Skip("runs Python TensorFlow")
		}
		checkPython(t, m)
	})
	t.Run("saved_model_cli", func(t *testing.T) {
		if testing.Short() {
			t.Skip("runs Python TensorFlow")
		}
		checkCLI(t, dir)
	})
}

func checkMetadata(t *testing.T, m *exported.Model) {
	if m.InputSize() != 32 || m.NumClasses() != 5 || m.Label(2) != "cardinal" {
		t.Fatalf("loaded input size %d, classes %d, label 2 %q", m.InputSize(), m.NumClasses(), m.Label(2))
	}
	if md := m.Metadata(); md.Net.Attention != nets.AttentionCSCA || md.ImageSize != 32 || md.ResizeSize != 40 || md.Metrics["test_top1"] != 0.5 || md.Net.Depth != 18 || md.Dataset != "synthetic" {
		t.Fatalf("metadata %+v", md)
	}
}

func checkPredict(t *testing.T, m *exported.Model) {
	rng := rand.New(rand.NewPCG(1, 1))
	images := exported.Images{N: 3, Height: 32, Width: 32, Pix: flat32(randomImages(rng, 3, 32, 32))}
	p, err := m.Predict(context.Background(), images, exported.WithCAM())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Probabilities) != 3 || len(p.Probabilities[0]) != 5 || len(p.CAM) != 3 || len(p.CAM[0][0][0]) != 5 {
		t.Fatalf("prediction shapes: probabilities %d×%d, cam %d", len(p.Probabilities), len(p.Probabilities[0]), len(p.CAM))
	}
	for i, row := range p.Probabilities {
		sum := 0.0
		for _, v := range row {
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Errorf("image %d: probabilities sum to %g", i, sum)
		}
		// The CAMs' spatial mean is the logits (nets' contract for inference heads).
		for k := range row {
			mean, n := 0.0, 0
			for _, r := range p.CAM[i] {
				for _, c := range r {
					mean += float64(c[k])
					n++
				}
			}
			if d := math.Abs(mean/float64(n) - float64(p.Logits[i][k])); d > 1e-4 {
				t.Errorf("image %d class %d: CAM mean differs from logit by %g", i, k, d)
			}
		}
	}
	if spread := maxAbsDiff(p.Probabilities[0], p.Probabilities[1]); spread < 1e-4 {
		t.Errorf("two random images got the same probabilities (spread %g): weights look constant", spread)
	}
	top := m.TopK(p.Probabilities[0], 3)
	if len(top) != 3 || top[0].Probability < top[1].Probability || top[1].Probability < top[2].Probability || top[0].Label != m.Label(top[0].ID) {
		t.Errorf("top-3 %+v", top)
	}
}

// checkPython runs serving_default on random images and predict_jpeg on JPEG and PNG files of several
// shapes, from Go and from Python TensorFlow, on the same SavedModel.
func checkPython(t *testing.T, m *exported.Model) {
	rng := rand.New(rand.NewPCG(2, 2))
	tmp := t.TempDir()
	images := exported.Images{N: 3, Height: 32, Width: 32, Pix: flat32(randomImages(rng, 3, 32, 32))}
	raw := filepath.Join(tmp, "images.f32")
	writeRaw(t, raw, randomImagesFrom(images))
	var files []string
	var encoded [][]byte
	for i, c := range []struct {
		w, h   int
		format string
	}{{40, 40, "png"}, {40, 57, "png"}, {71, 40, "png"}, {64, 48, "jpeg"}, {120, 90, "jpeg"}} {
		b := encode(t, testImage(rng, c.w, c.h), c.format)
		f := filepath.Join(tmp, "img"+string(rune('a'+i))+"."+c.format)
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files, encoded = append(files, f), append(encoded, b)
	}
	ctx := context.Background()
	serve, err := m.Predict(ctx, images)
	if err != nil {
		t.Fatal(err)
	}
	jpeg, err := m.PredictEncoded(ctx, encoded)
	if err != nil {
		t.Fatal(err)
	}
	py := pyRun(t, append([]string{"run", m.Dir(), "--images", raw, "3", "32", "32", "--files"}, files...)...)
	for _, c := range []struct {
		sig string
		got *exported.Prediction
	}{{exported.ServingDefault, serve}, {exported.PredictJPEG, jpeg}} {
		for name, got := range map[string][][]float32{"logits": c.got.Logits, "probabilities": c.got.Probabilities} {
			d := maxAbsDiff(flat32(got), toFloat32(py[c.sig][name].Values))
			t.Logf("%s %s: Go vs Python max |diff| %.3g", c.sig, name, d)
			if d > 1e-5 {
				t.Errorf("%s %s: Go and Python differ by %.3g (want <= 1e-5)", c.sig, name, d)
			}
		}
	}
}

func checkCLI(t *testing.T, dir string) {
	py := pyref.TensorFlow(t)
	cmd := exec.Command(filepath.Join(filepath.Dir(py), "saved_model_cli"), "show", "--all", "--dir", dir)
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2", "CUDA_VISIBLE_DEVICES=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("saved_model_cli: %v\n%s", err, out)
	}
	for _, want := range []string{"signature_def['serving_default']", "signature_def['predict_jpeg']", "inputs['images']", "inputs['image_bytes']", "outputs['cam']", "outputs['probabilities']", "outputs['logits']"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("saved_model_cli show --all lacks %s:\n%s", want, out)
		}
	}
}

func checkBadInputs(t *testing.T, m *exported.Model) {
	ctx := context.Background()
	good := encode(t, testImage(rand.New(rand.NewPCG(5, 5)), 50, 40), "png")
	wrongDType, _ := tf.NewTensor([][][][]int32{{{{1, 2, 3}}}})
	wrongShape, _ := tf.NewTensor(make([][][][]float32, 1))
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"short pixels", func() error {
			_, err := m.Predict(ctx, exported.Images{N: 2, Height: 32, Width: 32, Pix: make([]float32, 10)})
			return err
		}, "input images"},
		{"wrong size", func() error {
			_, err := m.Predict(ctx, exported.Images{N: 1, Height: 30, Width: 30, Pix: make([]float32, 30*30*3)})
			return err
		}, "model wants N×32×32×3"},
		{"wrong dtype", func() error { _, err := m.PredictTensor(ctx, wrongDType); return err }, "input images has dtype int32, want float32"},
		{"wrong shape", func() error { _, err := m.PredictTensor(ctx, wrongShape); return err }, "input images has shape"},
		{"not an image", func() error {
			_, err := m.PredictEncoded(ctx, [][]byte{good, []byte("hello, world")})
			return err
		}, "image 1: bad image: read header: image: unknown format"},
		{"bmp", func() error {
			var b bytes.Buffer
			if err := bmp.Encode(&b, image.NewRGBA(image.Rect(0, 0, 8, 8))); err != nil {
				return err
			}
			_, err := m.PredictEncoded(ctx, [][]byte{good, b.Bytes()})
			return err
		}, "image 1: a BMP image: the predict_jpeg signature decodes JPEG, PNG and single-frame GIF"},
		{"animated gif", func() error {
			frame := image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{color.Black, color.White})
			var b bytes.Buffer
			if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{frame, frame, frame}, Delay: []int{1, 1, 1}}); err != nil {
				return err
			}
			_, err := m.PredictEncoded(ctx, [][]byte{b.Bytes()})
			return err
		}, "image 0: an animated GIF (3 frames)"},
		{"empty", func() error { _, err := m.PredictEncoded(ctx, [][]byte{{}}); return err }, "image 0: empty"},
		{"truncated", func() error {
			_, err := m.PredictEncoded(ctx, [][]byte{good, good, good[:len(good)/2]})
			return err
		}, "image 2:"},
		{"empty batch", func() error {
			p, err := m.Predict(ctx, exported.Images{Height: 32, Width: 32})
			if err == nil && len(p.Probabilities) != 0 {
				return fmt.Errorf("empty batch gave %d rows", len(p.Probabilities))
			}
			return fmt.Errorf("empty batch: %v", err)
		}, "empty batch: <nil>"},
		{"empty encoded batch", func() error {
			p, err := m.PredictEncoded(ctx, nil)
			if err == nil && len(p.Probabilities) != 0 {
				return fmt.Errorf("empty batch gave %d rows", len(p.Probabilities))
			}
			return fmt.Errorf("empty batch: %v", err)
		}, "empty batch: <nil>"},
		{"cancelled", func() error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := m.PredictEncoded(c, [][]byte{good})
			return err
		}, "context canceled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			t.Log(err)
		})
	}
	var ie *exported.ImageError
	if _, err := m.PredictEncoded(ctx, [][]byte{good, []byte("x")}); !errors.As(err, &ie) || ie.Index != 1 {
		t.Errorf("error %v, want *ImageError for index 1", err)
	}
	if _, err := m.PredictEncoded(ctx, [][]byte{good, good}); err != nil {
		t.Errorf("good images after failures: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	tmp := t.TempDir()
	corrupt := filepath.Join(tmp, "corrupt")
	os.MkdirAll(corrupt, 0o755)
	os.WriteFile(filepath.Join(corrupt, "saved_model.pb"), []byte("not a protobuf at all"), 0o644)
	file := filepath.Join(tmp, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, c := range []struct{ dir, want string }{
		{filepath.Join(tmp, "missing"), "no such file"},
		{file, "not a directory"},
		{tmp, "no saved_model.pb"},
		{corrupt, "saved_model.pb is corrupt"},
	} {
		m, err := exported.Load(c.dir)
		if err == nil {
			m.Close()
			t.Errorf("Load(%s) succeeded", c.dir)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%s): %v, want %q", c.dir, err, c.want)
		}
		t.Log(err)
	}
}

func checkConcurrent(t *testing.T, m *exported.Model) {
	rng := rand.New(rand.NewPCG(9, 9))
	const n = 8
	inputs := make([]exported.Images, n)
	want := make([][]float32, n)
	for i := range inputs {
		inputs[i] = exported.Images{N: 1, Height: 32, Width: 32, Pix: flat32(randomImages(rng, 1, 32, 32))}
		p, err := m.Predict(context.Background(), inputs[i])
		if err != nil {
			t.Fatal(err)
		}
		want[i] = p.Probabilities[0]
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for r := 0; r < 4; r++ {
		for i := range inputs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := m.Predict(context.Background(), inputs[i])
				if err != nil {
					errs <- err
					return
				}
				if d := maxAbsDiff(p.Probabilities[0], want[i]); d > 1e-6 {
					errs <- errors.New("concurrent prediction differs")
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func randomImagesFrom(im exported.Images) [][][][]float32 {
	out := make([][][][]float32, im.N)
	i := 0
	for n := range out {
		out[n] = make([][][]float32, im.Height)
		for y := range out[n] {
			out[n][y] = make([][]float32, im.Width)
			for x := range out[n][y] {
				out[n][y][x] = im.Pix[i : i+3]
				i += 3
			}
		}
	}
	return out
}

func toFloat32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = float32(f)
	}
	return out
}

// checkBatcher sends requests of 1 to 3 images from many goroutines through a Batcher whose batches
// hold 4 images, and checks every reply against a direct prediction of the same images.
func checkBatcher(t *testing.T, m *exported.Model) {
	rng := rand.New(rand.NewPCG(4, 4))
	const n = 12
	inputs := make([]exported.Images, n)
	want := make([][]float32, n)
	for i := range inputs {
		k := 1 + i%3
		inputs[i] = exported.Images{N: k, Height: 32, Width: 32, Pix: flat32(randomImages(rng, k, 32, 32))}
		p, err := m.Predict(context.Background(), inputs[i])
		if err != nil {
			t.Fatal(err)
		}
		want[i] = flat32(p.Probabilities)
	}
	b := exported.NewBatcher(m, exported.BatchConfig{MaxBatch: 4, MaxDelay: 20 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := b.Predict(context.Background(), inputs[i])
			switch {
			case err != nil:
				errs <- err
			case len(p.Probabilities) != inputs[i].N:
				errs <- fmt.Errorf("request %d: %d rows for %d images", i, len(p.Probabilities), inputs[i].N)
			case maxAbsDiff(flat32(p.Probabilities), want[i]) > 1e-5:
				errs <- fmt.Errorf("request %d: batched probabilities differ by %g", i, maxAbsDiff(flat32(p.Probabilities), want[i]))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	bad := exported.Images{N: 1, Height: 8, Width: 8, Pix: make([]float32, 8*8*3)}
	if _, err := b.Predict(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "model wants") {
		t.Errorf("wrong-size request: %v", err)
	}
	b.Close()
	if _, err := b.Predict(context.Background(), inputs[0]); !errors.Is(err, exported.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// checkEvalPipeline classifies the same JPEG and PNG files with predict_jpeg (preprocessing in the
// graph) and with serving_default fed by the Go evaluation pipeline (pipeline.EvalEncoded).
func checkEvalPipeline(t *testing.T, m *exported.Model) {
	rng := rand.New(rand.NewPCG(6, 6))
	cfg := pipeline.DefaultConfig()
	cfg.ImageSize, cfg.ResizeSize, cfg.ScaledDecode = m.InputSize(), m.Metadata().ResizeSize, false
	for _, format := range []string{"png", "jpeg"} {
		var encoded [][]byte
		images := exported.Images{Height: m.InputSize(), Width: m.InputSize()}
		for _, wh := range [][2]int{{40, 40}, {40, 57}, {71, 40}, {64, 48}, {120, 90}, {33, 35}} {
			b := encode(t, testImage(rng, wh[0], wh[1]), format)
			pix, err := pipeline.EvalEncoded(b, cfg)
			if err != nil {
				t.Fatal(err)
			}
			encoded, images.Pix, images.N = append(encoded, b), append(images.Pix, pix...), images.N+1
		}
		ctx := context.Background()
		inGraph, err := m.PredictEncoded(ctx, encoded)
		if err != nil {
			t.Fatal(err)
		}
		goPipeline, err := m.Predict(ctx, images)
		if err != nil {
			t.Fatal(err)
		}
		d := maxAbsDiff(flat32(inGraph.Probabilities), flat32(goPipeline.Probabilities))
		t.Logf("%s: predict_jpeg vs Go eval pipeline + serving_default: max |diff| of probabilities %.3g", format, d)
		if d > 1e-4 {
			t.Errorf("%s: predict_jpeg and the Go eval pipeline differ by %.3g in probability (want <= 1e-4)", format, d)
		}
	}
}

// checkDamaged loads copies of the model with parts missing or corrupted: each must fail to load with
// an error naming the directory, never panic.
func checkDamaged(t *testing.T, dir string) {
	for _, c := range []struct {
		name   string
		damage func(dir string) error
		want   string
	}{
		{"no variables", func(d string) error { return os.RemoveAll(filepath.Join(d, "variables")) }, "weights are missing"},
		{"truncated data", func(d string) error {
			return os.Truncate(filepath.Join(d, "variables", "variables.data-00000-of-00001"), 100)
		}, "load model"},
		{"corrupt graph", func(d string) error {
			b, err := os.ReadFile(filepath.Join(d, "saved_model.pb"))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(d, "saved_model.pb"), b[:len(b)/3], 0o644)
		}, "saved_model.pb is corrupt"},
		{"bad labels", func(d string) error {
			return os.WriteFile(filepath.Join(d, "assets", "labels.txt"), []byte("only\ntwo\n"), 0o644)
		}, "2 labels for 5 classes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			copyDir := filepath.Join(t.TempDir(), "model")
			if err := os.CopyFS(copyDir, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			if err := c.damage(copyDir); err != nil {
				t.Fatal(err)
			}
			m, err := exported.Load(copyDir)
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), copyDir) {
				t.Fatalf("error %q, want one naming %s and containing %q", err, copyDir, c.want)
			}
			t.Log(err)
		})
	}
}

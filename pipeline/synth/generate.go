package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/finegrain/finegrain/internal/atomicfile"
	"github.com/finegrain/finegrain/pipeline/safefile"
)

// Files of a benchmark besides the CUB layout.
const (
	// MarkerFile is written last: a benchmark is complete when it holds the config's hash and
	// IncompleteFile is absent.
	MarkerFile = "synth.json"
	// IncompleteFile is written first and removed last, so an interrupted run is detected.
	IncompleteFile = ".synth-incomplete"
)

// outputs are the paths (relative to the benchmark folder) that Generate owns and replaces.
var outputs = []string{"images", "parts", "attributes", "images.txt", "image_class_labels.txt",
	"train_test_split.txt", "classes.txt", "bounding_boxes.txt", MarkerFile}

// marker is the content of MarkerFile.
type marker struct {
	Hash    string `json:"hash"`
	Version int    `json:"version"`
	Config  Config `json:"config"`
	Images  int    `json:"images"`
}

// Complete reports whether dir holds the finished benchmark of cfg.
func Complete(dir string, cfg Config) bool {
	if _, err := os.Stat(filepath.Join(dir, IncompleteFile)); err == nil {
		return false
	}
	// data.root is the user's: a marker that is a pipe or a huge file must not hang or fill memory.
	b, err := safefile.Read(context.Background(), filepath.Join(dir, MarkerFile), 1<<20)
	if err != nil {
		return false
	}
	var m marker
	return json.Unmarshal(b, &m) == nil && m.Hash == cfg.hash()
}

// Generate writes the benchmark of cfg to dir in the CUB-200-2011 layout (images/NNN.Name/*.jpg,
// images.txt, image_class_labels.txt, train_test_split.txt, classes.txt, bounding_boxes.txt with the
// bird's box, parts/parts.txt and parts/part_locs.txt with five part key points, and
// attributes/species.txt with each species' part attributes). When dir already holds the complete
// benchmark of the same config it returns at once; an interrupted or different benchmark there is
// replaced. It refuses a non-empty dir that it did not write. Cancelling ctx stops it with ctx's
// error, leaving the benchmark marked incomplete.
func Generate(ctx context.Context, dir string, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	workers := cfg.Workers
	cfg = cfg.withDefaults()
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if Complete(dir, cfg) {
		return nil
	}
	if err := prepare(dir, cfg.hash()); err != nil {
		return err
	}
	species, _ := Classes(cfg)
	n := cfg.Classes * cfg.PerClass
	results := make([]*sample, n)
	if err := renderAll(ctx, dir, cfg, species, workers, results); err != nil {
		return err
	}
	if err := writeIndex(dir, cfg, species, results); err != nil {
		return err
	}
	m, _ := json.MarshalIndent(marker{Hash: cfg.hash(), Version: version, Config: cfg, Images: n}, "", "  ")
	if err := writeAtomic(dir, MarkerFile, append(m, '\n')); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, IncompleteFile)); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// prepare makes dir ready for a new benchmark: refuses folders it did not write, marks the work
// incomplete and removes old outputs.
func prepare(dir, hash string) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("synth: %w", err)
	}
	ours := false
	for _, e := range entries {
		ours = ours || e.Name() == MarkerFile || e.Name() == IncompleteFile
	}
	if len(entries) > 0 && !ours {
		return fmt.Errorf("synth: %s is not empty and holds no synthetic benchmark; refusing to write into it", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, IncompleteFile), []byte(hash+"\n"), 0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	for _, o := range outputs {
		if err := os.RemoveAll(filepath.Join(dir, o)); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	return nil
}

// imagePath is the path of image j of species sp, relative to images/.
func imagePath(sp Species, j int) string {
	return fmt.Sprintf("%s/%s_%04d.jpg", sp.folder(), sp.Name, j+1)
}

// renderAll renders and writes every image with workers goroutines; results[i] receives image i
// (class-major order) with its pixels dropped.
func renderAll(ctx context.Context, dir string, cfg Config, species []Species, workers int, results []*sample) error {
	for _, sp := range species {
		if err := os.MkdirAll(filepath.Join(dir, "images", sp.folder()), 0o755); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	for range min(workers, len(results)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for i := range jobs {
				sp, j := species[i/cfg.PerClass], i%cfg.PerClass
				s := render(sp, cfg.Size, cfg.Difficulty, cfg.Seed, j)
				buf.Reset()
				if err := jpeg.Encode(&buf, s.img, &jpeg.Options{Quality: cfg.Quality}); err != nil {
					fail(fmt.Errorf("synth: encode %s: %w", imagePath(sp, j), err))
					continue
				}
				p := filepath.Join(dir, "images", filepath.FromSlash(imagePath(sp, j)))
				if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
					fail(fmt.Errorf("synth: %w", err))
					continue
				}
				s.img = nil
				results[i] = s
			}
		}()
	}
feed:
	for i := range results {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// isTrain returns which images of a species (by Species.Index) are training images: a seeded choice
// of trainCount.
func isTrain(cfg Config, species int) []bool {
	r := newRandom(cfg.Seed, 1<<63|uint64(species))
	idx := make([]int, cfg.PerClass)
	for i := range idx {
		idx[i] = i
	}
	train := make([]bool, cfg.PerClass)
	for i := range cfg.trainCount() {
		j := i + r.intn(len(idx)-i)
		idx[i], idx[j] = idx[j], idx[i]
		train[idx[i]] = true
	}
	return train
}

// writeIndex writes the CUB text files.
func writeIndex(dir string, cfg Config, species []Species, results []*sample) error {
	var images, labels, split, boxes, locs, classes, attrs strings.Builder
	attrs.WriteString("# class_id " + strings.Join(AttributeNames(), " ") + "\n")
	for k, sp := range species {
		fmt.Fprintf(&classes, "%d %s\n", k+1, sp.folder())
		fmt.Fprintf(&attrs, "%d", k+1)
		for _, a := range AttributeNames() {
			fmt.Fprintf(&attrs, " %s", sp.Attributes[a])
		}
		attrs.WriteString("\n")
		train := isTrain(cfg, sp.Index)
		for j := range cfg.PerClass {
			i := k*cfg.PerClass + j
			id := i + 1
			s := results[i]
			fmt.Fprintf(&images, "%d %s\n", id, imagePath(sp, j))
			fmt.Fprintf(&labels, "%d %d\n", id, k+1)
			t := 0
			if train[j] {
				t = 1
			}
			fmt.Fprintf(&split, "%d %d\n", id, t)
			b := s.bird
			fmt.Fprintf(&boxes, "%d %d %d %d %d\n", id, b.Min.X, b.Min.Y, b.Dx(), b.Dy())
			for p, pt := range s.parts {
				v := 0
				x, y := 0.0, 0.0
				if pt.visible {
					v, x, y = 1, pt.x, pt.y
				}
				fmt.Fprintf(&locs, "%d %d %.1f %.1f %d\n", id, p+1, x, y, v)
			}
		}
	}
	var parts strings.Builder
	for p, name := range partNames {
		fmt.Fprintf(&parts, "%d %s\n", p+1, name)
	}
	for _, f := range []struct{ name, text string }{
		{"images.txt", images.String()}, {"image_class_labels.txt", labels.String()},
		{"train_test_split.txt", split.String()}, {"classes.txt", classes.String()},
		{"bounding_boxes.txt", boxes.String()}, {"parts/parts.txt", parts.String()},
		{"parts/part_locs.txt", locs.String()}, {"attributes/species.txt", attrs.String()},
	} {
		if err := writeAtomic(dir, f.name, []byte(f.text)); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic writes dir/name through a synced temporary file and a rename.
func writeAtomic(dir, name string, data []byte) error {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := atomicfile.Write(p, data); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

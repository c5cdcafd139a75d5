package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Batch is a batch of preprocessed images: float32 RGB in 0..255, NHWC, plus int32 labels.
type Batch struct {
	Images  []float32 // Shape[0]·Shape[1]·Shape[2]·Shape[3] values
	Shape   [4]int    // N, H, W, C (C = 3)
	Labels  []int32   // Labels[i] is the class of image i
	Paths   []string  // Paths[i] is the file of image i
	Indices []int     // Indices[i] is the position of image i in the record list

	pool *sync.Pool
}

// Len is the number of images in the batch.
func (b *Batch) Len() int { return b.Shape[0] }

// Bytes returns the image values as bytes in the machine's byte order, without copying: what
// tf.ReadTensor(tf.Float, shape, bytes.NewReader(b.Bytes())) copies into a tensor, the one copy
// between the pipeline and TensorFlow. The slice aliases Images.
func (b *Batch) Bytes() []byte {
	if len(b.Images) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&b.Images[0])), len(b.Images)*4)
}

// Release hands the batch's buffers back for reuse by later batches. The batch must not be used
// afterwards. Calling it is optional (unreleased batches are garbage collected) but saves
// allocating some 10 MB a batch at 448×448.
func (b *Batch) Release() {
	if p := b.pool; p != nil {
		b.pool = nil
		p.Put(b)
	}
}

// sample is one preprocessed image on its way to a batch.
type sample struct {
	pix   []uint8 // ImageSize·ImageSize·3
	label int
	index int
	path  string
}

// loader holds what the workers of one pipeline share: the configuration, buffer pools, and the
// count of skipped images.
type loader struct {
	cfg       Config
	pixPool   sync.Pool // *[]uint8 of ImageSize²·3 bytes
	tmpPool   sync.Pool // *[]uint8 resampling scratch
	batchPool sync.Pool // *Batch
	skipped   atomic.Int64
	firstBad  atomic.Pointer[BadImageError]
}

func (l *loader) getPix() []uint8 {
	if p, ok := l.pixPool.Get().(*[]uint8); ok {
		return *p
	}
	s := l.cfg.ImageSize
	return make([]uint8, s*s*3)
}

func (l *loader) putPix(p []uint8) { l.pixPool.Put(&p) }

// process decodes data and applies the train transforms (rng != nil) or the eval transforms.
func (l *loader) process(data []byte, path string, train bool, rng *rand.Rand) (pix []uint8, err error) {
	bad := func(err error) error { return &BadImageError{Path: path, Err: err} }
	hdr, err := readHeader(data, l.cfg.MaxPixels)
	if err != nil {
		return nil, bad(err)
	}
	var g geometry
	if train {
		g = trainGeometry(&l.cfg, rng, hdr.w, hdr.h)
	} else {
		g = evalGeometry(&l.cfg, hdr.w, hdr.h)
	}
	denom := 1
	if l.cfg.ScaledDecode && turboJPEG && hdr.format == "jpeg" {
		denom = decodeScale(g)
	}
	img, err := decodeRGB(data, hdr, denom)
	if err != nil {
		return nil, bad(err)
	}
	pix = l.getPix()
	tmp, _ := l.tmpPool.Get().(*[]uint8)
	if tmp == nil {
		tmp = new([]uint8)
	}
	*tmp = render(pix, img, hdr.w, hdr.h, g, *tmp)
	l.tmpPool.Put(tmp)
	if train {
		s := l.cfg.ImageSize
		m, spare := &RGB{Pix: pix, W: s, H: s}, &RGB{Pix: l.getPix(), W: s, H: s}
		augmentPixels(&l.cfg, rng, m, spare)
		pix = m.Pix
		l.putPix(spare.Pix)
	}
	return pix, nil
}

// load reads and preprocesses one record. The file is read with ReadImageFile: a named pipe or a
// device in a dataset is a bad image, not a hang or an endless read, and cancelling ctx stops a read.
func (l *loader) load(ctx context.Context, it Item, train bool) (*sample, error) {
	data, err := ReadImageFile(ctx, it.Path, l.cfg.MaxFileBytes)
	if err != nil {
		return nil, err
	}
	var rng *rand.Rand
	if train {
		rng = sampleRNG(l.cfg.Seed, it.Epoch, it.Index)
	}
	pix, err := l.process(data, it.Path, train, rng)
	if err != nil {
		return nil, err
	}
	return &sample{pix: pix, label: it.Label, index: it.Index, path: it.Path}, nil
}

// warnedBad holds the bad images already named in a warning, by path and reason; warnedCount counts
// them, so that a long-lived process meeting ever new bad files stops remembering (and then warns
// every time) instead of growing without bound.
var (
	warnedBad   sync.Map
	warnedCount atomic.Int64
)

const maxWarned = 1 << 16

// firstWarning reports whether bad has not been named in a warning yet, and remembers it.
func firstWarning(bad *BadImageError) bool {
	if bad.Path == "" || warnedCount.Load() >= maxWarned {
		return true
	}
	if _, seen := warnedBad.LoadOrStore(bad.Path+"\x00"+bad.Err.Error(), true); seen {
		return false
	}
	warnedCount.Add(1)
	return true
}

// skip is the IgnoreErrors predicate of OnBadImage "skip": bad images are logged and counted.
func (l *loader) skip(err error) bool {
	var bad *BadImageError
	if !errors.As(err, &bad) {
		return false
	}
	n := l.skipped.Add(1)
	l.firstBad.CompareAndSwap(nil, bad)
	// Every pass meets the same bad files again: name each once per process (and per reason),
	// then only count it, so that a long run's log is not one warning per file and epoch.
	if firstWarning(bad) {
		l.cfg.logger().Warn("pipeline: skipping bad image", "path", bad.Path, "err", bad.Err, "skipped", n)
	}
	return true
}

// collate turns samples into a Batch, converting to float32, and recycles their pixel buffers.
func (l *loader) collate(_ context.Context, ss []*sample) (*Batch, error) {
	s := l.cfg.ImageSize
	per := s * s * 3
	b, _ := l.batchPool.Get().(*Batch)
	if b == nil {
		n := l.cfg.BatchSize
		b = &Batch{Images: make([]float32, n*per), Labels: make([]int32, n), Paths: make([]string, n), Indices: make([]int, n)}
	}
	n := len(ss)
	b.Images, b.Labels, b.Paths, b.Indices = b.Images[:n*per], b.Labels[:n], b.Paths[:n], b.Indices[:n]
	b.Shape = [4]int{n, s, s, 3}
	for i, smp := range ss {
		toFloat(b.Images[i*per:(i+1)*per], smp.pix)
		b.Labels[i] = int32(smp.label)
		b.Paths[i] = smp.path
		b.Indices[i] = smp.index
		l.putPix(smp.pix)
	}
	b.pool = &l.batchPool
	return b, nil
}

// Loader yields the batches of one pass (an epoch of training, or one evaluation).
type Loader struct {
	it      Iterator[*Batch]
	l       *loader
	records int
	images  int // images yielded so far
	train   bool
}

// NewTrain starts epoch epoch of the training pipeline over records: shuffle (seeded by cfg.Seed
// and epoch), decode and augment with cfg.Workers goroutines, batches of cfg.BatchSize (the last
// incomplete batch is dropped), prefetch. The shuffle order and every image's augmentation depend
// only on (cfg.Seed, epoch, the image's index in records), so a run resumed at epoch e reproduces
// it exactly. ctx bounds the pass's goroutines; Close the loader when done.
func NewTrain(ctx context.Context, records []Record, cfg Config, epoch int) (*Loader, error) {
	return newLoader(ctx, records, cfg, epoch, true)
}

// NewEval starts the evaluation pipeline over records in order: decode, Resize + CenterCrop,
// batches of cfg.BatchSize with a last smaller batch. With OnBadImage "skip" bad images are left
// out (and counted by Skipped), so evaluation then covers fewer images.
func NewEval(ctx context.Context, records []Record, cfg Config) (*Loader, error) {
	return newLoader(ctx, records, cfg, 0, false)
}

func newLoader(ctx context.Context, records []Record, cfg Config, epoch int, train bool) (*Loader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, errNoRecords
	}
	if !train && cfg.BatchSize > len(records) {
		cfg.BatchSize = len(records) // an evaluation never needs a buffer larger than its split
	}
	l := &loader{cfg: cfg}
	src := Records(records)
	if train {
		buf := cfg.ShuffleBuffer
		if buf == 0 {
			buf = len(records)
		}
		src = Shuffle(src, buf, cfg.Seed, true)
	}
	samples := Map(src, cfg.Workers, cfg.Deterministic || !train, func(ctx context.Context, it Item) (*sample, error) {
		return l.load(ctx, it, train)
	})
	if cfg.OnBadImage == "skip" {
		samples = IgnoreErrors(samples, l.skip)
	}
	batches := Map(Batched(samples, cfg.BatchSize, train), 0, true, l.collate)
	if cfg.Prefetch > 0 {
		batches = Prefetch(batches, cfg.Prefetch)
	}
	return &Loader{it: batches.Open(ctx, epoch), l: l, records: len(records), train: train}, nil
}

// Next returns the next batch, io.EOF after the last one, the context's error when ctx or the
// loader's context is done, or, with OnBadImage "fail", a *BadImageError for an image that could
// not be used (the loader can go on after it). If every image of the pass is bad, the end of the
// pass is an error instead of io.EOF.
func (l *Loader) Next(ctx context.Context) (*Batch, error) {
	b, err := l.it.Next(ctx)
	if err == io.EOF && l.images == 0 && int(l.l.skipped.Load()) == l.records {
		return nil, fmt.Errorf("pipeline: all %d images were bad, the first: %w", l.records, l.l.firstBad.Load())
	}
	if err != nil {
		return nil, err
	}
	l.images += b.Len()
	return b, nil
}

// Close stops the pass and waits for its goroutines.
func (l *Loader) Close() error { return l.it.Close() }

// Skipped is the number of bad images skipped so far (OnBadImage "skip").
func (l *Loader) Skipped() int { return int(l.l.skipped.Load()) }

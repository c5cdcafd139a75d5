package exported

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// BatchConfig sets how a Batcher groups requests.
type BatchConfig struct {
	MaxBatch int           // images per batch (default 16)
	MaxDelay time.Duration // longest wait for more requests after the first one (default 5ms)
	CAM      bool          // compute class activation maps too
}

// Batcher groups concurrent requests of a few images each (typically one) into batches for one Model,
// trading a bounded delay for the throughput of larger batches. Its methods are safe for concurrent
// use; Close stops it.
type Batcher struct {
	m    *Model
	cfg  BatchConfig
	reqs chan *batchRequest
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

type batchRequest struct {
	ctx    context.Context
	images Images
	reply  chan batchReply
}

type batchReply struct {
	p   *Prediction
	err error
}

// NewBatcher starts a batcher for m.
func NewBatcher(m *Model, cfg BatchConfig) *Batcher {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 16
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 5 * time.Millisecond
	}
	b := &Batcher{m: m, cfg: cfg, reqs: make(chan *batchRequest), quit: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// Predict classifies images (usually N = 1) as part of a batch shared with concurrent callers. The
// result has one row per image of this request.
func (b *Batcher) Predict(ctx context.Context, images Images) (*Prediction, error) {
	if err := b.m.checkImages(images); err != nil {
		return nil, err
	}
	r := &batchRequest{ctx: ctx, images: images, reply: make(chan batchReply, 1)}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.quit:
		return nil, ErrClosed
	}
	select {
	case rep := <-r.reply:
		return rep.p, rep.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops the batcher after the batch being collected has run. It does not close the Model.
func (b *Batcher) Close() error {
	b.once.Do(func() { close(b.quit) })
	<-b.done
	return nil
}

func (b *Batcher) loop() {
	defer close(b.done)
	var next *batchRequest // a request that did not fit in the previous batch
	for {
		first := next
		next = nil
		if first == nil {
			select {
			case first = <-b.reqs:
			case <-b.quit:
				return
			}
		}
		batch, n := []*batchRequest{first}, first.images.N
		timer := time.NewTimer(b.cfg.MaxDelay)
	collect:
		for n < b.cfg.MaxBatch {
			select {
			case r := <-b.reqs:
				if n+r.images.N > b.cfg.MaxBatch {
					next = r
					break collect
				}
				batch, n = append(batch, r), n+r.images.N
			case <-timer.C:
				break collect
			case <-b.quit:
				break collect
			}
		}
		timer.Stop()
		b.run(batch)
	}
}

// run predicts one batch and hands every request its rows. Requests whose context ended are left out.
func (b *Batcher) run(batch []*batchRequest) {
	live := batch[:0]
	n := 0
	for _, r := range batch {
		if r.ctx.Err() == nil {
			live, n = append(live, r), n+r.images.N
		}
	}
	if len(live) == 0 {
		return
	}
	size := b.m.size
	merged := Images{N: n, Height: size, Width: size, Pix: make([]float32, 0, n*size*size*3)}
	for _, r := range live {
		merged.Pix = append(merged.Pix, r.images.Pix...)
	}
	var opts []PredictOption
	if b.cfg.CAM {
		opts = append(opts, WithCAM())
	}
	p, err := b.m.Predict(context.Background(), merged, opts...)
	row := 0
	for _, r := range live {
		if err != nil {
			r.reply <- batchReply{err: fmt.Errorf("batch of %d images: %w", n, err)}
			continue
		}
		k := r.images.N
		part := &Prediction{Logits: p.Logits[row : row+k], Probabilities: p.Probabilities[row : row+k]}
		if p.CAM != nil {
			part.CAM = p.CAM[row : row+k]
		}
		r.reply <- batchReply{p: part}
		row += k
	}
}

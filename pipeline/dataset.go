package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
)

// Dataset is a recipe for a stream of elements, in the spirit of tf.data.Dataset: transformations
// (Map, Shuffle, Batched, Prefetch, Repeat, Take, IgnoreErrors) wrap a source and Open starts one
// pass over the result.
//
// epoch numbers the pass. Stages that draw random numbers (Shuffle, and the augmentation in the
// standard pipelines) seed them from their seed and epoch only, so a given pass is reproducible
// whatever the scheduling of the goroutines, and a run resumed at epoch e sees what it would have
// seen without the interruption.
type Dataset[T any] interface {
	// Open starts a pass. Background goroutines of the pass live until the iterator is closed or
	// ctx is cancelled.
	Open(ctx context.Context, epoch int) Iterator[T]
}

// Iterator yields the elements of one pass.
//
// Next returns the next element, io.EOF after the last one, or the context's error once the
// pass's or the call's context is done. Any other error belongs to one element (a file that
// cannot be decoded, say): the iterator stays usable and the next call goes on with the next
// element, as tf.data's iterators do. Close stops the pass, waits for its goroutines and is safe to
// call more than once; an iterator must be closed even after io.EOF. An iterator is not safe for
// concurrent use.
type Iterator[T any] interface {
	Next(ctx context.Context) (T, error)
	Close() error
}

// DatasetFunc adapts a function to the Dataset interface.
type DatasetFunc[T any] func(ctx context.Context, epoch int) Iterator[T]

// Open calls f.
func (f DatasetFunc[T]) Open(ctx context.Context, epoch int) Iterator[T] { return f(ctx, epoch) }

// isCtxErr reports whether err comes from a context.
func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// isStop reports whether err ends a pass opened with ctx rather than one element.
func isStop(ctx context.Context, err error) bool {
	return err == io.EOF || (ctx.Err() != nil && isCtxErr(err))
}

// firstDone returns the error of the first of the two contexts that is done, or nil.
func firstDone(a, b context.Context) error {
	if err := a.Err(); err != nil {
		return err
	}
	return b.Err()
}

// FromSlice is a data set of the elements of xs, in order.
func FromSlice[T any](xs []T) Dataset[T] {
	return DatasetFunc[T](func(ctx context.Context, epoch int) Iterator[T] {
		return &sliceIter[T]{ctx: ctx, xs: xs}
	})
}

type sliceIter[T any] struct {
	ctx context.Context
	xs  []T
	i   int
}

func (it *sliceIter[T]) Next(ctx context.Context) (T, error) {
	var zero T
	if err := firstDone(it.ctx, ctx); err != nil {
		return zero, err
	}
	if it.i >= len(it.xs) {
		return zero, io.EOF
	}
	it.i++
	return it.xs[it.i-1], nil
}

func (it *sliceIter[T]) Close() error { return nil }

// Item is a Record with its position in the record list and the epoch of the pass that yields it;
// per-sample random numbers derive from them.
type Item struct {
	Record
	Index int // position in the slice given to Records
	Epoch int
}

// Records is a data set of the records in order, each as an Item stamped with the pass's epoch.
func Records(recs []Record) Dataset[Item] {
	return DatasetFunc[Item](func(ctx context.Context, epoch int) Iterator[Item] {
		return &recordIter{sliceIter[Record]{ctx: ctx, xs: recs}, epoch}
	})
}

type recordIter struct {
	sliceIter[Record]
	epoch int
}

func (it *recordIter) Next(ctx context.Context) (Item, error) {
	r, err := it.sliceIter.Next(ctx)
	if err != nil {
		return Item{}, err
	}
	return Item{Record: r, Index: it.i - 1, Epoch: it.epoch}, nil
}

// result is one element or its error, as passed between goroutines.
type result[T any] struct {
	v   T
	err error
}

// pass is what stages with goroutines share: the upstream iterator, read by the stage's own
// goroutine, and a context that ends the goroutines when cancelled or when Close is called.
type pass[T any] struct {
	ctx    context.Context
	cancel context.CancelFunc
	up     Iterator[T]
	wg     sync.WaitGroup
	once   sync.Once
}

func startPass[T any](ctx context.Context, d Dataset[T], epoch int) pass[T] {
	ctx, cancel := context.WithCancel(ctx)
	return pass[T]{ctx: ctx, cancel: cancel, up: d.Open(ctx, epoch)}
}

// Close cancels the goroutines, waits for them and closes the upstream iterator.
func (p *pass[T]) Close() error {
	var err error
	p.once.Do(func() {
		p.cancel()
		p.wg.Wait()
		err = p.up.Close()
	})
	return err
}

// receive waits for a value on ch, for ctx (the caller's) or for the pass's context. A closed
// channel means the pass has ended: io.EOF, or the context's error if it was cancelled.
func receive[T, V any](p *pass[T], ctx context.Context, ch <-chan V) (V, error) {
	var zero V
	select {
	case v, ok := <-ch:
		if !ok {
			if err := p.ctx.Err(); err != nil {
				return zero, err
			}
			return zero, io.EOF
		}
		return v, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-p.ctx.Done():
		return zero, p.ctx.Err()
	}
}

// Map applies fn to every element with workers goroutines. With ordered, elements come out in
// input order (tf.data's deterministic=True); otherwise in completion order, which keeps slow
// elements from stalling the rest. With workers <= 0, fn runs in the goroutine calling Next, in
// order. An error from fn is that element's error. A panic in fn becomes an error. fn must be safe
// for concurrent use; its context is the pass's (or, with no workers, Next's).
func Map[T, U any](d Dataset[T], workers int, ordered bool, fn func(context.Context, T) (U, error)) Dataset[U] {
	if workers <= 0 {
		return DatasetFunc[U](func(ctx context.Context, epoch int) Iterator[U] {
			return &syncMapIter[T, U]{up: d.Open(ctx, epoch), fn: fn}
		})
	}
	return DatasetFunc[U](func(ctx context.Context, epoch int) Iterator[U] {
		it := &mapIter[T, U]{pass: startPass(ctx, d, epoch)}
		ctx = it.ctx
		jobs := make(chan mapJob[T, U])
		if ordered {
			it.order = make(chan chan result[U], 2*workers)
		} else {
			it.results = make(chan result[U], 2*workers)
		}
		var workersWG sync.WaitGroup
		for range workers {
			workersWG.Add(1)
			it.wg.Add(1)
			go func() {
				defer it.wg.Done()
				defer workersWG.Done()
				for j := range jobs {
					v, err := safeCall(ctx, fn, j.x)
					r := result[U]{v, err}
					if j.slot != nil {
						j.slot <- r // buffered: never blocks
						continue
					}
					select {
					case it.results <- r:
					case <-ctx.Done():
					}
				}
			}()
		}
		it.wg.Add(1)
		go func() {
			defer it.wg.Done()
			it.feed(jobs)
			close(jobs)
			if !ordered {
				workersWG.Wait()
				close(it.results)
			}
		}()
		return it
	})
}

type mapJob[T, U any] struct {
	x    T
	slot chan result[U] // where the result goes in ordered mode
}

type mapIter[T, U any] struct {
	pass[T]
	order   chan chan result[U] // ordered mode: one slot per element, in input order
	results chan result[U]      // unordered mode
	pending chan result[U]      // ordered mode: slot taken from order but not yet read
}

// feed reads the upstream iterator and hands elements to the workers until it ends.
func (it *mapIter[T, U]) feed(jobs chan<- mapJob[T, U]) {
	if it.order != nil {
		defer close(it.order)
	}
	for {
		x, err := it.up.Next(it.ctx)
		if isStop(it.ctx, err) {
			return
		}
		var slot chan result[U]
		if it.order != nil {
			slot = make(chan result[U], 1)
			select {
			case it.order <- slot:
			case <-it.ctx.Done():
				return
			}
		}
		if err != nil { // an upstream element error passes through in its place
			if slot != nil {
				slot <- result[U]{err: err}
				continue
			}
			select {
			case it.results <- result[U]{err: err}:
			case <-it.ctx.Done():
				return
			}
			continue
		}
		select {
		case jobs <- mapJob[T, U]{x, slot}:
		case <-it.ctx.Done():
			return
		}
	}
}

func (it *mapIter[T, U]) Next(ctx context.Context) (U, error) {
	var zero U
	if err := firstDone(it.ctx, ctx); err != nil {
		return zero, err
	}
	if it.order == nil {
		r, err := receive(&it.pass, ctx, it.results)
		if err != nil {
			return zero, err
		}
		return r.v, r.err
	}
	if it.pending == nil {
		slot, err := receive(&it.pass, ctx, it.order)
		if err != nil {
			return zero, err
		}
		it.pending = slot
	}
	r, err := receive(&it.pass, ctx, it.pending)
	if err != nil {
		return zero, err
	}
	it.pending = nil
	return r.v, r.err
}

type syncMapIter[T, U any] struct {
	up Iterator[T]
	fn func(context.Context, T) (U, error)
}

func (it *syncMapIter[T, U]) Next(ctx context.Context) (U, error) {
	x, err := it.up.Next(ctx)
	if err != nil {
		var zero U
		return zero, err
	}
	return safeCall(ctx, it.fn, x)
}

func (it *syncMapIter[T, U]) Close() error { return it.up.Close() }

// safeCall runs fn, turning a panic into an error.
func safeCall[T, U any](ctx context.Context, fn func(context.Context, T) (U, error), x T) (v U, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pipeline: map function panicked: %v", r)
		}
	}()
	return fn(ctx, x)
}

// Shuffle shuffles with a buffer of the given size, as tf.data's shuffle: the buffer is filled
// with the first elements, and each output is drawn uniformly from the buffer and replaced by the
// next input. A buffer at least as long as the data set gives a uniform permutation. The order
// depends only on seed and, when reshuffleEachEpoch is set, the pass's epoch (otherwise every pass
// has the order of epoch 0). Upstream element errors pass through as they arrive.
func Shuffle[T any](d Dataset[T], buffer int, seed uint64, reshuffleEachEpoch bool) Dataset[T] {
	buffer = max(buffer, 1)
	return DatasetFunc[T](func(ctx context.Context, epoch int) Iterator[T] {
		e := epoch
		if !reshuffleEachEpoch {
			e = 0
		}
		return &shuffleIter[T]{
			up:  d.Open(ctx, epoch),
			rng: rand.New(rand.NewPCG(seed, mix64(0x53485546464c45, uint64(e)))), // "SHUFFLE"
			buf: make([]T, 0, buffer),
		}
	})
}

type shuffleIter[T any] struct {
	up   Iterator[T]
	rng  *rand.Rand
	buf  []T
	done bool // upstream exhausted
}

func (it *shuffleIter[T]) Next(ctx context.Context) (T, error) {
	var zero T
	for !it.done && len(it.buf) < cap(it.buf) {
		x, err := it.up.Next(ctx)
		if err == io.EOF {
			it.done = true
			break
		}
		if err != nil {
			return zero, err
		}
		it.buf = append(it.buf, x)
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if len(it.buf) == 0 {
		return zero, io.EOF
	}
	i := it.rng.IntN(len(it.buf))
	x := it.buf[i]
	last := len(it.buf) - 1
	it.buf[i] = it.buf[last]
	it.buf[last] = zero
	it.buf = it.buf[:last]
	return x, nil
}

func (it *shuffleIter[T]) Close() error { return it.up.Close() }

// Batched (tf.data's batch) groups consecutive elements into slices of size n (at least 1). The
// last, shorter batch is kept unless dropRemainder. An element error is returned as it arrives
// and the batch being filled carries on with the following elements, so dropping bad elements
// upstream (IgnoreErrors) keeps every batch full.
func Batched[T any](d Dataset[T], n int, dropRemainder bool) Dataset[[]T] {
	n = max(n, 1)
	return DatasetFunc[[]T](func(ctx context.Context, epoch int) Iterator[[]T] {
		return &batchIter[T]{up: d.Open(ctx, epoch), n: n, drop: dropRemainder}
	})
}

type batchIter[T any] struct {
	up   Iterator[T]
	n    int
	drop bool
	cur  []T
}

func (it *batchIter[T]) Next(ctx context.Context) ([]T, error) {
	for len(it.cur) < it.n {
		x, err := it.up.Next(ctx)
		if err == io.EOF {
			if len(it.cur) == 0 || it.drop {
				it.cur = nil
				return nil, io.EOF
			}
			break
		}
		if err != nil {
			return nil, err
		}
		if it.cur == nil {
			it.cur = make([]T, 0, it.n)
		}
		it.cur = append(it.cur, x)
	}
	b := it.cur
	it.cur = nil
	return b, nil
}

func (it *batchIter[T]) Close() error { return it.up.Close() }

// Prefetch computes up to n elements (at least 1) ahead in a goroutine, overlapping the
// producer's work with the consumer's.
func Prefetch[T any](d Dataset[T], n int) Dataset[T] {
	n = max(n, 1)
	return DatasetFunc[T](func(ctx context.Context, epoch int) Iterator[T] {
		it := &prefetchIter[T]{pass: startPass(ctx, d, epoch), ch: make(chan result[T], n)}
		ctx = it.ctx
		it.wg.Add(1)
		go func() {
			defer it.wg.Done()
			defer close(it.ch)
			for {
				x, err := it.up.Next(ctx)
				if isStop(ctx, err) {
					return
				}
				select {
				case it.ch <- result[T]{x, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
		return it
	})
}

type prefetchIter[T any] struct {
	pass[T]
	ch chan result[T]
}

func (it *prefetchIter[T]) Next(ctx context.Context) (T, error) {
	var zero T
	if err := firstDone(it.ctx, ctx); err != nil {
		return zero, err
	}
	r, err := receive(&it.pass, ctx, it.ch)
	if err != nil {
		return zero, err
	}
	return r.v, r.err
}

// Repeat makes count passes over d (forever when count < 0). Pass k of d is opened with epoch
// e·count + k, e being the epoch Repeat was opened with, so each pass is a distinct epoch (and
// reshuffles); repeating forever, pass k is epoch e + k.
func Repeat[T any](d Dataset[T], count int) Dataset[T] {
	return DatasetFunc[T](func(ctx context.Context, epoch int) Iterator[T] {
		first := epoch
		if count > 0 {
			first = epoch * count
		}
		return &repeatIter[T]{ctx: ctx, d: d, count: count, first: first}
	})
}

type repeatIter[T any] struct {
	ctx   context.Context
	d     Dataset[T]
	count int
	first int
	k     int // passes started
	cur   Iterator[T]
}

func (it *repeatIter[T]) Next(ctx context.Context) (T, error) {
	var zero T
	for {
		if err := firstDone(it.ctx, ctx); err != nil {
			return zero, err
		}
		if it.cur == nil {
			if it.count >= 0 && it.k >= it.count {
				return zero, io.EOF
			}
			it.cur = it.d.Open(it.ctx, it.first+it.k)
			it.k++
		}
		x, err := it.cur.Next(ctx)
		if err != io.EOF {
			return x, err
		}
		if err := it.cur.Close(); err != nil {
			return zero, err
		}
		it.cur = nil
	}
}

func (it *repeatIter[T]) Close() error {
	if it.cur == nil {
		return nil
	}
	err := it.cur.Close()
	it.cur = nil
	return err
}

// Take yields at most the first n elements of d. Element errors do not count.
func Take[T any](d Dataset[T], n int) Dataset[T] {
	return DatasetFunc[T](func(ctx context.Context, epoch int) Iterator[T] {
		return &takeIter[T]{up: d.Open(ctx, epoch), left: n}
	})
}

type takeIter[T any] struct {
	up   Iterator[T]
	left int
}

func (it *takeIter[T]) Next(ctx context.Context) (T, error) {
	var zero T
	if it.left <= 0 {
		return zero, io.EOF
	}
	x, err := it.up.Next(ctx)
	if err == nil {
		it.left--
	}
	return x, err
}

func (it *takeIter[T]) Close() error { return it.up.Close() }

// IgnoreErrors drops the elements whose error makes drop return true (tf.data's ignore_errors);
// drop may log and count them. Other errors are returned as they are. Context errors always end
// the pass and are never given to drop.
func IgnoreErrors[T any](d Dataset[T], drop func(error) bool) Dataset[T] {
	return DatasetFunc[T](func(ctx context.Context, epoch int) Iterator[T] {
		return &ignoreIter[T]{up: d.Open(ctx, epoch), drop: drop}
	})
}

type ignoreIter[T any] struct {
	up   Iterator[T]
	drop func(error) bool
}

func (it *ignoreIter[T]) Next(ctx context.Context) (T, error) {
	for {
		x, err := it.up.Next(ctx)
		if err == nil || err == io.EOF || isCtxErr(err) || !it.drop(err) {
			return x, err
		}
	}
}

func (it *ignoreIter[T]) Close() error { return it.up.Close() }

// mix64 combines two values into a well-mixed 64-bit seed (SplitMix64's finaliser).
func mix64(a, b uint64) uint64 {
	z := a*0x9e3779b97f4a7c15 + b
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// drain reads a pass to its end, collecting elements and element errors.
func drain[T any](t *testing.T, d Dataset[T], epoch int) ([]T, []error) {
	t.Helper()
	it := d.Open(context.Background(), epoch)
	defer it.Close()
	var xs []T
	var errs []error
	for {
		x, err := it.Next(context.Background())
		if err == io.EOF {
			return xs, errs
		}
		if err != nil {
			errs = append(errs, err)
			if len(errs) > 1000 {
				t.Fatalf("runaway errors: %v", err)
			}
			continue
		}
		xs = append(xs, x)
	}
}

func ints(n int) []int {
	xs := make([]int, n)
	for i := range xs {
		xs[i] = i
	}
	return xs
}

// jitterSleep sleeps a short time for some values of x, so that workers finish out of order.
func jitterSleep(x int) {
	if r := mix64(uint64(x), 1); r%4 == 0 {
		time.Sleep(time.Duration(r%500) * time.Microsecond)
	}
}

func TestMapOrderedAndUnordered(t *testing.T) {
	square := func(_ context.Context, x int) (int, error) { jitterSleep(x); return x * x, nil }
	want := make([]int, 200)
	for i := range want {
		want[i] = i * i
	}
	for _, workers := range []int{0, 1, 3, 8} {
		got, errs := drain(t, Map(FromSlice(ints(200)), workers, true, square), 0)
		if len(errs) > 0 || !slices.Equal(got, want) {
			t.Errorf("ordered, %d workers: %v %v", workers, errs, got)
		}
		got, errs = drain(t, Map(FromSlice(ints(200)), workers, false, square), 0)
		slices.Sort(got)
		if len(errs) > 0 || !slices.Equal(got, want) {
			t.Errorf("unordered, %d workers: %v, sorted %v", workers, errs, got)
		}
	}
}

func TestMapElementErrorsAndPanics(t *testing.T) {
	fn := func(_ context.Context, x int) (int, error) {
		switch x % 10 {
		case 3:
			return 0, fmt.Errorf("element %d failed", x)
		case 7:
			panic("boom")
		}
		return x, nil
	}
	for _, ordered := range []bool{true, false} {
		got, errs := drain(t, Map(FromSlice(ints(50)), 4, ordered, fn), 0)
		if len(got) != 40 || len(errs) != 10 {
			t.Fatalf("ordered=%v: %d elements, %d errors, want 40 and 10", ordered, len(got), len(errs))
		}
		panics := 0
		for _, err := range errs {
			if strings.Contains(err.Error(), "panicked: boom") {
				panics++
			}
		}
		if panics != 5 {
			t.Errorf("ordered=%v: %d panics reported as errors, want 5", ordered, panics)
		}
		if ordered && !slices.IsSorted(got) {
			t.Errorf("ordered output out of order: %v", got)
		}
	}
}

func TestShuffle(t *testing.T) {
	src := FromSlice(ints(100))
	tests := []struct {
		name      string
		buffer    int
		reshuffle bool
	}{
		{"full buffer", 100, true},
		{"small buffer", 8, true},
		{"no reshuffle", 100, false},
	}
	for _, tt := range tests {
		d := Shuffle(src, tt.buffer, 42, tt.reshuffle)
		e0, _ := drain(t, d, 0)
		e0again, _ := drain(t, d, 0)
		e1, _ := drain(t, d, 1)
		other, _ := drain(t, Shuffle(src, tt.buffer, 43, tt.reshuffle), 0)
		sorted := slices.Clone(e0)
		slices.Sort(sorted)
		if !slices.Equal(sorted, ints(100)) {
			t.Errorf("%s: not a permutation: %v", tt.name, e0)
		}
		if slices.Equal(e0, ints(100)) {
			t.Errorf("%s: identity order", tt.name)
		}
		if !slices.Equal(e0, e0again) {
			t.Errorf("%s: same seed and epoch, different orders", tt.name)
		}
		if slices.Equal(e0, other) {
			t.Errorf("%s: seeds 42 and 43 give the same order", tt.name)
		}
		if got := slices.Equal(e0, e1); got == tt.reshuffle {
			t.Errorf("%s: epochs 0 and 1 equal = %v, want %v", tt.name, got, !tt.reshuffle)
		}
	}
	// A buffer of one element cannot reorder anything.
	if got, _ := drain(t, Shuffle(src, 1, 1, true), 0); !slices.Equal(got, ints(100)) {
		t.Errorf("buffer 1: %v", got)
	}
	// With a small buffer an element cannot move earlier than buffer-1 places.
	got, _ := drain(t, Shuffle(src, 8, 5, true), 3)
	for pos, x := range got {
		if x > pos+7 {
			t.Errorf("element %d at position %d with an 8-element buffer", x, pos)
		}
	}
}

func TestBatch(t *testing.T) {
	tests := []struct {
		n, size int
		drop    bool
		want    []int // batch lengths
	}{
		{10, 3, false, []int{3, 3, 3, 1}},
		{10, 3, true, []int{3, 3, 3}},
		{9, 3, true, []int{3, 3, 3}},
		{2, 3, true, nil},
		{2, 3, false, []int{2}},
		{0, 3, false, nil},
	}
	for _, tt := range tests {
		got, errs := drain(t, Batched(FromSlice(ints(tt.n)), tt.size, tt.drop), 0)
		var lens []int
		var all []int
		for _, b := range got {
			lens = append(lens, len(b))
			all = append(all, b...)
		}
		if len(errs) > 0 || !slices.Equal(lens, tt.want) {
			t.Errorf("%d elements in %d (drop %v): batch sizes %v, want %v (%v)", tt.n, tt.size, tt.drop, lens, tt.want, errs)
		}
		if !slices.Equal(all, ints(tt.n)[:len(all)]) {
			t.Errorf("elements out of order: %v", all)
		}
	}
}

// TestIgnoreErrorsKeepsBatchesFull: failing elements dropped before Batch leave full batches.
func TestIgnoreErrorsKeepsBatchesFull(t *testing.T) {
	errBad := errors.New("bad")
	fn := func(_ context.Context, x int) (int, error) {
		if x%4 == 1 {
			return 0, fmt.Errorf("element %d: %w", x, errBad)
		}
		return x, nil
	}
	dropped := 0
	d := Batched(IgnoreErrors(Map(FromSlice(ints(40)), 3, true, fn), func(err error) bool {
		if errors.Is(err, errBad) {
			dropped++
			return true
		}
		return false
	}), 4, true)
	got, errs := drain(t, d, 0)
	if len(errs) != 0 || dropped != 10 {
		t.Fatalf("errors %v, dropped %d, want none and 10", errs, dropped)
	}
	for _, b := range got {
		if len(b) != 4 {
			t.Errorf("batch of %d", len(b))
		}
		for _, x := range b {
			if x%4 == 1 {
				t.Errorf("bad element %d kept", x)
			}
		}
	}
	if len(got) != 7 {
		t.Errorf("%d batches of 30 good elements, want 7", len(got))
	}
	// Without IgnoreErrors the errors reach the consumer and the batches still fill.
	got, errs = drain(t, Batched(Map(FromSlice(ints(40)), 3, true, fn), 4, true), 0)
	if len(errs) != 10 || len(got) != 7 {
		t.Errorf("%d errors and %d batches, want 10 and 7", len(errs), len(got))
	}
}

func TestRepeatTakePrefetch(t *testing.T) {
	d := Repeat(Shuffle(FromSlice(ints(10)), 10, 7, true), 3)
	got, _ := drain(t, d, 0)
	if len(got) != 30 {
		t.Fatalf("%d elements, want 30", len(got))
	}
	for k := range 3 {
		want, _ := drain(t, Shuffle(FromSlice(ints(10)), 10, 7, true), k)
		if !slices.Equal(got[10*k:10*k+10], want) {
			t.Errorf("pass %d: %v, want the epoch-%d shuffle %v", k, got[10*k:10*k+10], k, want)
		}
	}
	// Opened at epoch 1, the passes are epochs 3, 4, 5.
	got1, _ := drain(t, d, 1)
	want3, _ := drain(t, Shuffle(FromSlice(ints(10)), 10, 7, true), 3)
	if !slices.Equal(got1[:10], want3) {
		t.Errorf("Repeat(3) at epoch 1 starts with %v, want epoch 3's %v", got1[:10], want3)
	}
	if got, _ := drain(t, Take(Repeat(FromSlice(ints(3)), -1), 7), 0); !slices.Equal(got, []int{0, 1, 2, 0, 1, 2, 0}) {
		t.Errorf("Take(7) of Repeat forever: %v", got)
	}
	if got, _ := drain(t, Prefetch(Map(FromSlice(ints(100)), 2, true, func(_ context.Context, x int) (int, error) { return x, nil }), 3), 0); !slices.Equal(got, ints(100)) {
		t.Errorf("Prefetch changed the elements: %v", got)
	}
}

// Records stamps each item with its index and the pass's epoch.
func TestRecordsItems(t *testing.T) {
	recs := []Record{{Path: "a", Label: 1}, {Path: "b", Label: 0}}
	got, _ := drain(t, Records(recs), 5)
	want := []Item{{recs[0], 0, 5}, {recs[1], 1, 5}}
	if !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
}

// checkNoLeak returns a function that fails the test if goroutines started since remain after a
// grace period.
func checkNoLeak(t *testing.T) func() {
	t.Helper()
	before := runtime.NumGoroutine()
	return func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestNoGoroutineLeaks stops pipelines every way a user can: reading to the end, closing early,
// cancelling the pass's context, cancelling one Next call. Every goroutine must be gone after
// Close.
func TestNoGoroutineLeaks(t *testing.T) {
	slow := func(_ context.Context, x int) (int, error) { jitterSleep(x); return x, nil }
	build := func(ordered bool) Dataset[[]int] {
		inner := Map(Shuffle(FromSlice(ints(300)), 50, 1, true), 4, ordered, slow)
		return Prefetch(Batched(Map(Prefetch(inner, 5), 2, ordered, slow), 7, false), 2)
	}
	for _, ordered := range []bool{true, false} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			done := checkNoLeak(t)
			d := build(ordered)

			// To the end.
			if got, _ := drain(t, d, 0); len(got) != 43 {
				t.Errorf("%d batches, want 43", len(got))
			}

			// Closed after one batch, with workers busy and buffers full.
			it := d.Open(context.Background(), 1)
			if _, err := it.Next(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
			if err := it.Close(); err != nil { // twice is fine
				t.Fatal(err)
			}

			// The pass's context cancelled mid-stream.
			ctx, cancel := context.WithCancel(context.Background())
			it = d.Open(ctx, 2)
			if _, err := it.Next(ctx); err != nil {
				t.Fatal(err)
			}
			cancel()
			for range 5 { // no element may come after the cancellation is seen
				if _, err := it.Next(context.Background()); !errors.Is(err, context.Canceled) {
					t.Fatalf("after cancel: %v, want context.Canceled", err)
				}
			}
			it.Close()

			// One Next call's context expires; the pass itself goes on.
			it = d.Open(context.Background(), 3)
			short, cancelShort := context.WithCancel(context.Background())
			cancelShort()
			if _, err := it.Next(short); !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled Next: %v", err)
			}
			n := 0
			for {
				_, err := it.Next(context.Background())
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n != 43 {
				t.Errorf("%d batches after a cancelled Next, want 43", n)
			}
			it.Close()
			done()
		})
	}
}

// TestCancelUnblocksBlockedProducer: a Map whose consumer stops reading must not keep its
// workers blocked once the pass is cancelled, even with a slow upstream.
func TestCancelWhileUpstreamBlocks(t *testing.T) {
	done := checkNoLeak(t)
	block := DatasetFunc[int](func(ctx context.Context, epoch int) Iterator[int] { return blockingIter{} })
	ctx, cancel := context.WithCancel(context.Background())
	it := Prefetch(Map(block, 2, false, func(_ context.Context, x int) (int, error) { return x, nil }), 2).Open(ctx, 0)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if _, err := it.Next(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("Next: %v, want context.Canceled", err)
	}
	it.Close()
	done()
}

// blockingIter never yields: Next waits for its context.
type blockingIter struct{}

func (blockingIter) Next(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }
func (blockingIter) Close() error                          { return nil }

// A pseudo-random pipeline run many times gives the same ordered output each time.
func TestOrderedMapDeterministic(t *testing.T) {
	fn := func(_ context.Context, x int) (uint64, error) {
		jitterSleep(x)
		r := rand.New(rand.NewPCG(uint64(x), 9))
		return r.Uint64(), nil
	}
	d := Batched(Map(Shuffle(FromSlice(ints(64)), 16, 3, true), 4, true, fn), 5, false)
	first, _ := drain(t, d, 2)
	for range 3 {
		again, _ := drain(t, d, 2)
		if !slices.EqualFunc(first, again, slices.Equal) {
			t.Fatal("same seed and epoch gave different batches")
		}
	}
}

package datasets

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/finegrain/finegrain/pipeline"
)

// SplitValidation carves a validation split from training records: in each class, round(fraction·n)
// records chosen by seed (leaving at least one for training). Both results keep the input order,
// and the choice depends only on the records of each class, their order and the seed, so it is the
// same on every machine and Go version. fraction must be in [0, 1).
func SplitValidation(records []pipeline.Record, fraction float64, seed uint64) (train, val []pipeline.Record, err error) {
	if !(fraction >= 0 && fraction < 1) {
		return nil, nil, fmt.Errorf("validation fraction %v is not in [0, 1)", fraction)
	}
	train, val = stratified(records, fraction, seed)
	return train, val, nil
}

// stratified splits records per class: round(fraction·n) of each class's n records (at most n-1)
// go to the second result.
func stratified(records []pipeline.Record, fraction float64, seed uint64) (keep, out []pipeline.Record) {
	byClass := map[int][]int{}
	for i, r := range records {
		byClass[r.Label] = append(byClass[r.Label], i)
	}
	held := make([]bool, len(records))
	for label, idx := range byClass {
		n := min(int(math.Round(fraction*float64(len(idx)))), len(idx)-1)
		// A partial Fisher-Yates shuffle with PCG (a fixed algorithm) seeded by seed and class.
		rng := rand.NewPCG(seed, uint64(label)+0x9e3779b97f4a7c15)
		for i := 0; i < n; i++ {
			j := i + int(rng.Uint64()%uint64(len(idx)-i))
			idx[i], idx[j] = idx[j], idx[i]
			held[idx[i]] = true
		}
	}
	for i, r := range records {
		if held[i] {
			out = append(out, r)
		} else {
			keep = append(keep, r)
		}
	}
	return keep, out
}

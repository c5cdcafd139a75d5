package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/finegrain/finegrain/internal/bench"
)

// runWorker is the -worker mode: each Go measurement runs in a fresh process of this binary (bench
// -worker KIND -spec JSON), so that process-wide TensorFlow settings (TF_XLA_FLAGS,
// TF_ENABLE_ONEDNN_OPTS) can differ between measurements and one model's memory never weighs on the
// next. It decodes spec for kind, measures it and prints the result as one JSON line. With lockstep
// (training and inference), the timed rounds wait for their turns on standard input (bench.RunPair).
func runWorker(ctx context.Context, kind, spec string, lockstep bool) error {
	var turns bench.Turns
	if lockstep {
		turns = bench.StdioTurns(os.Stdin, os.Stdout)
	}
	decode := func(v any) error {
		if err := json.Unmarshal([]byte(spec), v); err != nil {
			return fmt.Errorf("-spec for %s: %w", kind, err)
		}
		return nil
	}
	var (
		res any
		err error
	)
	switch kind {
	case bench.WorkTrain:
		var s bench.TrainSpec
		if err = decode(&s); err == nil {
			var rs []*bench.TrainResult
			if rs, err = bench.TrainGroup(ctx, []bench.TrainSpec{s}, turns); err == nil {
				res = rs[0]
			}
		}
	case bench.WorkTrainGroup:
		var s []bench.TrainSpec
		if err = decode(&s); err == nil {
			res, err = bench.TrainGroup(ctx, s, turns)
		}
	case bench.WorkProfile:
		var s bench.ProfileSpec
		if err = decode(&s); err == nil {
			res, err = bench.RunProfile(ctx, s)
		}
	case bench.WorkPeak:
		var s bench.PeakSpec
		if err = decode(&s); err == nil {
			res, err = bench.Peak(ctx, s)
		}
	case bench.WorkInfer:
		var s bench.InferSpec
		if err = decode(&s); err == nil {
			res, err = bench.InferGo(ctx, s, turns)
		}
	case bench.WorkExport:
		var s bench.InferSpec
		if err = decode(&s); err == nil {
			err = bench.ExportModel(ctx, s)
			res = s
		}
	case bench.WorkPipeline:
		var s bench.PipelineSpec
		if err = decode(&s); err == nil {
			res, err = bench.PipelineGo(ctx, s)
		}
	default:
		return fmt.Errorf("-worker %q: want %s, %s, %s, %s, %s, %s or %s", kind, bench.WorkTrain, bench.WorkTrainGroup, bench.WorkPeak, bench.WorkExport, bench.WorkInfer, bench.WorkPipeline, bench.WorkProfile)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

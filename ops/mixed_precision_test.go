package ops_test

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"github.com/galeone/tensorflow/tensorflow/go/op"
	"google.golang.org/protobuf/proto"

	"github.com/finegrain/finegrain/ops"
)

// ampGraph is a convolution and a matrix multiply, the two ops the mixed-precision rewrites cast first,
// on fed inputs (constants would be folded before the rewrite sees them). It returns the graph, its
// feeds and its output.
func ampGraph(t *testing.T) (*tf.Graph, map[tf.Output]*tf.Tensor, tf.Output) {
	t.Helper()
	rng := rand.New(rand.NewPCG(16, 1))
	uniform := func(shape ...int64) *tf.Tensor {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = 0.5 + rng.Float32() // positive: no cancellation, so relative errors are those of the rounding
		}
		tt, err := tf.NewTensor(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := tt.Reshape(shape); err != nil {
			t.Fatal(err)
		}
		return tt
	}
	s := op.NewScope()
	x := op.Placeholder(s.SubScope("x"), tf.Float, op.PlaceholderShape(tf.MakeShape(4, 16, 16, 8)))
	k := op.Placeholder(s.SubScope("k"), tf.Float, op.PlaceholderShape(tf.MakeShape(3, 3, 8, 32)))
	w := op.Placeholder(s.SubScope("w"), tf.Float, op.PlaceholderShape(tf.MakeShape(32, 10)))
	conv := op.Conv2D(s, x, k, []int64{1, 1, 1, 1}, "SAME")
	pooled := op.Mean(s, conv, op.Const(s.SubScope("axes"), []int32{1, 2}))
	y := op.MatMul(s, pooled, w)
	g, err := s.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	return g, map[tf.Output]*tf.Tensor{x: uniform(4, 16, 16, 8), k: uniform(3, 3, 8, 32), w: uniform(32, 10)}, y
}

// runWith runs the graph in a session whose ConfigProto is ops.SessionConfig c's, changed by edit.
func runWith(t *testing.T, c ops.SessionConfig, edit func(*pb.RewriterConfig)) []float32 {
	t.Helper()
	opts, err := c.Options()
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		var cfg pb.ConfigProto
		if err := proto.Unmarshal(opts.Config, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.GraphOptions == nil {
			cfg.GraphOptions = &pb.GraphOptions{}
		}
		if cfg.GraphOptions.RewriteOptions == nil {
			cfg.GraphOptions.RewriteOptions = &pb.RewriterConfig{}
		}
		edit(cfg.GraphOptions.RewriteOptions)
		if opts.Config, err = proto.Marshal(&cfg); err != nil {
			t.Fatal(err)
		}
	}
	g, feeds, y := ampGraph(t)
	sess, err := tf.NewSession(g, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Run(feeds, []tf.Output{y}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var flat []float32
	for _, row := range out[0].Value().([][]float32) {
		flat = append(flat, row...)
	}
	return flat
}

// relErr is max |a-b| over max |b|.
func relErr(a, b []float32) float64 {
	var diff, scale float64
	for i := range b {
		diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	return diff / scale
}

// cpuFlags reports which of flags /proc/cpuinfo lists.
func cpuFlags(flags ...string) map[string]bool {
	have := map[string]bool{}
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return have
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "flags") {
			continue
		}
		for _, f := range strings.Fields(line) {
			for _, want := range flags {
				if f == want {
					have[want] = true
				}
			}
		}
	}
	return have
}

// TestMixedPrecisionRewrite runs the graph rewrite that SessionConfig.MixedPrecision switches on, on a
// CPU: by itself it changes nothing there (it casts to float16 only ops placed on a GPU); with
// TensorFlow's CPU emulation of it (auto_mixed_precision_cpu, float16 casts around float32 kernels) the
// same rewrite runs, and the result moves by float16 rounding, no more. Exact equality where no rewrite
// runs, and a difference where one does, is what shows the rewrite ran: TensorFlow reports it only in
// its INFO log. The oneDNN bfloat16 rewrite
// (auto_mixed_precision_onednn_bfloat16, field auto_mixed_precision_mkl in these bindings) computes in
// bfloat16 where the CPU has bfloat16 instructions (avx512_bf16 or AMX).
func TestMixedPrecisionRewrite(t *testing.T) {
	base := ops.DefaultSessionConfig()
	amp := base
	amp.MixedPrecision = true
	opts, err := amp.Options()
	if err != nil {
		t.Fatal(err)
	}
	var cfg pb.ConfigProto
	if err := proto.Unmarshal(opts.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	if got := cfg.GetGraphOptions().GetRewriteOptions().GetAutoMixedPrecision(); got != pb.RewriterConfig_ON {
		t.Fatalf("MixedPrecision: auto_mixed_precision %v, want ON", got)
	}
	fp32 := runWith(t, base, nil)
	flags := cpuFlags("avx512_bf16", "amx_bf16")
	tests := []struct {
		name     string
		c        ops.SessionConfig
		edit     func(*pb.RewriterConfig)
		min, max float64 // bounds of the relative error against float32
		skip     string
	}{
		// The same session twice: float32 kernels are deterministic here, so any difference is a rewrite.
		{name: "float32 again", c: base, max: 0},
		{name: "MixedPrecision on a CPU", c: amp, max: 0},
		// The emulation rounds the inputs and outputs of the ops it would convert to float16 (11-bit
		// significand) and computes in float32; the rounding errors of the many terms of each output
		// partly cancel, so the output moves by well under 2^-11 (measured: 9.6e-6), but it moves.
		{name: "float16 rewrite emulated on the CPU", c: amp, min: 1e-6, max: 1e-3,
			edit: func(r *pb.RewriterConfig) { r.AutoMixedPrecisionCpu = pb.RewriterConfig_ON }},
		// bfloat16 (8-bit significand) computation of Conv2D and MatMul: more than float16's rounding
		// (measured: 2.2e-4), still far from wrong.
		{name: "oneDNN bfloat16 rewrite", c: base, min: 1e-5, max: 1e-2,
			edit: func(r *pb.RewriterConfig) { r.AutoMixedPrecisionMkl = pb.RewriterConfig_ON },
			skip: bf16Skip(flags)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			got := runWith(t, tc.c, tc.edit)
			e := relErr(got, fp32)
			t.Logf("relative error against float32: %.3g", e)
			if e < tc.min || e > tc.max {
				t.Errorf("relative error against float32 %.3g, want within [%g, %g]", e, tc.min, tc.max)
			}
		})
	}
}

// bf16Skip says why the oneDNN bfloat16 rewrite cannot run here, or "" if it can: TensorFlow applies
// it only with oneDNN on (TF_ENABLE_ONEDNN_OPTS, default on for x86 Linux) and on a CPU with bfloat16
// instructions.
func bf16Skip(flags map[string]bool) string {
	if v := os.Getenv("TF_ENABLE_ONEDNN_OPTS"); v == "0" || strings.EqualFold(v, "false") {
		return "TF_ENABLE_ONEDNN_OPTS=0: the oneDNN bfloat16 rewrite needs oneDNN"
	}
	if !flags["avx512_bf16"] && !flags["amx_bf16"] {
		return "this CPU has neither avx512_bf16 nor amx_bf16 (/proc/cpuinfo): TensorFlow skips the bfloat16 rewrite"
	}
	return ""
}

package bench

import (
	"math"
	"testing"
)

func TestTiming(t *testing.T) {
	tests := []struct {
		name                string
		seconds             []float64
		cpu                 float64
		median, best, rate4 float64
		cpuPerRun           float64
	}{
		{"empty", nil, 0, 0, 0, 0, 0},
		{"one", []float64{2}, 3, 2, 2, 2, 3},
		{"odd", []float64{3, 1, 2}, 6, 2, 1, 2, 2},
		{"even", []float64{4, 1, 3, 2}, 2, 2.5, 1, 1.6, 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tm := Timing{Seconds: tc.seconds, CPUSeconds: tc.cpu}
			for _, c := range []struct {
				what      string
				got, want float64
			}{
				{"Median", tm.Median(), tc.median},
				{"Best", tm.Best(), tc.best},
				{"Rate(4)", tm.Rate(4), tc.rate4},
				{"CPUPerRun", tm.CPUPerRun(), tc.cpuPerRun},
			} {
				if math.Abs(c.got-c.want) > 1e-12 {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestTimingTime(t *testing.T) {
	var tm Timing
	if err := tm.Time(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := tm.Time(func() error { return errTest }); err != errTest {
		t.Fatalf("Time returned %v, want the function's error", err)
	}
	if len(tm.Seconds) != 1 || tm.Seconds[0] < 0 || tm.CPUSeconds < 0 {
		t.Errorf("after one success and one failure: %+v, want one non-negative run", tm)
	}
}

type testError string

func (e testError) Error() string { return string(e) }

const errTest = testError("test error")

func TestFLOPConvention(t *testing.T) {
	tests := []struct {
		macs  int64
		batch int
		want  float64
	}{
		{1, 1, 6},                     // 2 FLOPs per MAC, forward + 2 backward passes
		{4_089_184_256, 16, 3.925e11}, // torchvision ResNet-50 at 224, batch 16: ~392.6 GFLOP
	}
	for _, tc := range tests {
		if got := TrainStepFLOPs(tc.macs, tc.batch); math.Abs(got-tc.want)/tc.want > 1e-3 {
			t.Errorf("TrainStepFLOPs(%d, %d) = %g, want %g", tc.macs, tc.batch, got, tc.want)
		}
	}
	if got := MatMulFLOPs(1024); got != 2*1024*1024*1024 {
		t.Errorf("MatMulFLOPs(1024) = %g, want 2·1024³", got)
	}
}

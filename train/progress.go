package train

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress shows a run's progress: a bar per epoch (steps, loss, accuracy, img/s, epoch and run ETA)
// on a terminal, plain log lines otherwise, nothing but warnings when quiet.
type Progress struct {
	w          io.Writer
	bars       bool
	quiet      bool
	every      int
	epochs     int
	bar        *progressbar.ProgressBar
	epoch      int
	steps      int
	start      time.Time
	runStart   time.Time
	runDone    float64 // fraction of the run's steps done when this process started its clock
	totalSteps int64
}

// NewProgress writes to w (standard error in the commands). Bars are used when w is a terminal; plain
// lines every `every` steps otherwise (0: per epoch only).
func NewProgress(w io.Writer, quiet bool, every, epochs int) *Progress {
	bars := false
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bars = true
	}
	return &Progress{w: w, bars: bars && !quiet, quiet: quiet, every: every, epochs: epochs}
}

// Printf writes a log line unless quiet.
func (p *Progress) Printf(format string, args ...any) {
	if p.quiet {
		return
	}
	p.clearBar()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// Warnf writes a log line even when quiet.
func (p *Progress) Warnf(format string, args ...any) {
	p.clearBar()
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *Progress) clearBar() {
	if p.bar != nil {
		p.bar.Clear()
	}
}

// StartEpoch begins epoch (1-based) of steps steps, of which done were taken before a resume;
// stepsSoFar and totalSteps place it in the run for the run's ETA.
func (p *Progress) StartEpoch(epoch, steps, done int, stepsSoFar, totalSteps int64) {
	p.epoch, p.steps, p.start = epoch, steps, time.Now()
	if p.runStart.IsZero() {
		p.runStart = p.start
		p.runDone = float64(stepsSoFar)
	}
	p.totalSteps = totalSteps
	if !p.bars {
		return
	}
	p.bar = progressbar.NewOptions(steps,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch, p.epochs)),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowDescriptionAtLineEnd(),
	)
	if done > 0 {
		p.bar.Set(done)
	}
}

// Step reports step (1-based within the epoch) with the epoch's running loss and accuracy.
func (p *Progress) Step(step int, globalStep int64, loss, acc, imgPerSec, lr float64) {
	eta := p.runETA(globalStep)
	if p.bar != nil {
		p.bar.Set(step)
		p.bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f acc %.3f %.0f img/s run ETA %s", p.epoch, p.epochs, loss, acc, imgPerSec, eta))
		return
	}
	if p.quiet || p.every <= 0 || step%p.every != 0 {
		return
	}
	fmt.Fprintf(p.w, "epoch %d/%d step %d/%d loss %.4f acc %.3f lr %.3g %.1f img/s eta %s\n",
		p.epoch, p.epochs, step, p.steps, loss, acc, lr, imgPerSec, eta)
}

func (p *Progress) runETA(globalStep int64) string {
	el := time.Since(p.runStart).Seconds()
	done := float64(globalStep) - p.runDone
	if done <= 0 || p.totalSteps <= 0 {
		return "?"
	}
	left := el / done * (float64(p.totalSteps) - float64(globalStep))
	return fmtDuration(left)
}

// EndEpoch finishes the epoch's bar and prints its summary line.
func (p *Progress) EndEpoch(m EpochMetrics) {
	if p.bar != nil {
		p.bar.Finish()
		p.bar.Exit()
		p.bar = nil
		fmt.Fprintln(p.w)
	}
	if p.quiet {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d/%d: train loss %.4f top1 %.3f", m.Epoch, p.epochs, m.TrainLoss, m.TrainTop1)
	if m.ValTop1 != nil {
		fmt.Fprintf(&b, " | val top1 %.3f top5 %.3f mean-class %.3f", *m.ValTop1, *m.ValTop5, *m.ValMeanClassAcc)
	}
	fmt.Fprintf(&b, " | lr %.3g | %.1f img/s | %s", m.LR, m.ImagesPerSecond, fmtDuration(m.EpochSeconds))
	fmt.Fprintln(p.w, b.String())
}

func fmtDuration(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return "?"
	}
	return (time.Duration(s) * time.Second).Round(time.Second).String()
}

package train

import (
	"context"
	"fmt"
	"io"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"

	"github.com/finegrain/finegrain/nets"
)

// Plan is what a dry run found: the dataset's size, the model's size and the schedule, without training.
type Plan struct {
	Config        string      `json:"config"`
	RunDir        string      `json:"run_dir"`
	Dataset       PlanDataset `json:"dataset"`
	Model         PlanModel   `json:"model"`
	Params        int64       `json:"params"`
	FLOPs         int64       `json:"flops"` // per image, forward pass (multiply-adds)
	Variables     int         `json:"variables"`
	StepsPerEpoch int         `json:"steps_per_epoch"`
	Epochs        int         `json:"epochs"`
	TotalSteps    int64       `json:"total_steps"`
	Optimizer     string      `json:"optimizer"`
	Selection     string      `json:"selection"`
	TensorFlow    string      `json:"tensorflow"`
}

// PlanDataset sizes the splits.
type PlanDataset struct {
	Format  string `json:"format"`
	Root    string `json:"root"`
	Classes int    `json:"classes"`
	Train   int    `json:"train"`
	Val     int    `json:"val"`
	Test    int    `json:"test"`
	// Generated is false for a synthetic dataset that the run will generate first (sizes from the config).
	Generated bool `json:"generated"`
}

// PlanModel is the network of the run.
type PlanModel struct {
	Attention       string  `json:"attention"`
	Depth           int     `json:"depth"`
	WidthMultiplier float64 `json:"width_multiplier"`
	NumClasses      int     `json:"num_classes"`
	ImageSize       int     `json:"image_size"`
	// ResizeSize is the shorter side images are resized to before the image_size crop (evaluation's
	// centre crop, training's random one): data.resize_size, or image_size·8/7 when that is 0.
	ResizeSize int `json:"resize_size"`
	// ResizeFollowsCrop is true when data.resize_size is 0, so the resize follows data.image_size.
	ResizeFollowsCrop bool   `json:"resize_follows_crop"`
	Pretrained        string `json:"pretrained,omitempty"`
}

// DryRun validates what a run would do: it indexes the dataset (without decoding images), builds the
// full training graph (model, loss, gradients, optimiser, saver) and reports the sizes.
func DryRun(ctx context.Context, cfg *Config, configPath, runDir string, build BuildFunc) (*Plan, error) {
	splits, err := IndexData(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	k := len(splits.Classes)
	if cfg.Model.NumClasses != 0 && cfg.Model.NumClasses != k {
		return nil, fmt.Errorf("model.num_classes %d: the dataset %s has %d classes (use 0 to take the dataset's)", cfg.Model.NumClasses, splits.Source, k)
	}
	tg, err := BuildGraph(cfg, k, build)
	if err != nil {
		return nil, err
	}
	if err := tg.AddOptimizer(cfg.Train, nil); err != nil {
		return nil, err
	}
	spe := splits.TrainCount / cfg.Train.BatchSize
	if spe == 0 {
		return nil, fmt.Errorf("the training split of %s has %d images, fewer than train.batch_size (%d)", splits.Source, splits.TrainCount, cfg.Train.BatchSize)
	}
	p := &Plan{
		Config: configPath, RunDir: runDir,
		Dataset: PlanDataset{Format: cfg.Data.Format, Root: cfg.Data.Root, Classes: k, Train: splits.TrainCount, Val: splits.ValCount,
			Test: splits.TestCount, Generated: splits.Generated},
		Model: PlanModel{Attention: string(cfg.Model.Attention), Depth: cfg.Model.Depth, WidthMultiplier: cfg.Model.WidthMultiplier,
			NumClasses: k, ImageSize: cfg.Data.ImageSize, ResizeSize: cfg.Data.ResolvedResize(), ResizeFollowsCrop: cfg.Data.ResizeSize == 0,
			Pretrained: cfg.Model.Pretrained},
		Params: tg.ModelParams(), Variables: len(tg.G.Variables()) - len(tg.Opt.Slots),
		StepsPerEpoch: spe, Epochs: cfg.Train.Epochs, TotalSteps: int64(spe) * int64(cfg.Train.Epochs),
		Optimizer: cfg.Train.Optimizer, Selection: cfg.Train.Selection, TensorFlow: tf.Version(),
	}
	if build == nil {
		if _, flops, err := nets.Stats(tg.Net, cfg.Data.ImageSize); err == nil {
			p.FLOPs = flops
		}
	}
	return p, nil
}

// WriteText writes the plan as the lines cmd/train -dry-run prints.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	gen := ""
	if !p.Dataset.Generated {
		gen = " (synthetic, generated on the first run)"
	}
	fmt.Fprintf(&b, "config      %s\n", p.Config)
	fmt.Fprintf(&b, "run dir     %s\n", p.RunDir)
	fmt.Fprintf(&b, "dataset     %s at %s%s: %d classes, %d train, %d val, %d test images\n",
		p.Dataset.Format, p.Dataset.Root, gen, p.Dataset.Classes, p.Dataset.Train, p.Dataset.Val, p.Dataset.Test)
	pre := "from scratch"
	if p.Model.Pretrained != "" {
		pre = "from " + p.Model.Pretrained
	}
	fmt.Fprintf(&b, "model       %s-ResNet%d ×%g, %d classes, %d×%d input, %s\n",
		p.Model.Attention, p.Model.Depth, p.Model.WidthMultiplier, p.Model.NumClasses, p.Model.ImageSize, p.Model.ImageSize, pre)
	// The resize decides how much of each image the crop keeps: a 224 crop of a 512 resize is the
	// centre 44%, which is why it is shown beside the input size.
	rule := "data.resize_size"
	if p.Model.ResizeFollowsCrop {
		rule = "8/7 of data.image_size, as data.resize_size is 0"
	}
	fmt.Fprintf(&b, "input       shorter side resized to %d (%s), then a %d×%d crop: %.0f%% of the shorter side\n",
		p.Model.ResizeSize, rule, p.Model.ImageSize, p.Model.ImageSize, 100*float64(p.Model.ImageSize)/float64(max(p.Model.ResizeSize, 1)))
	fmt.Fprintf(&b, "size        %d parameters in %d variables", p.Params, p.Variables)
	if p.FLOPs > 0 {
		fmt.Fprintf(&b, ", %.2f GFLOPs per image", float64(p.FLOPs)/1e9)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "schedule    %s, %d epochs × %d steps = %d steps; model selection: %s\n", p.Optimizer, p.Epochs, p.StepsPerEpoch, p.TotalSteps, p.Selection)
	fmt.Fprintf(&b, "tensorflow  %s\n", p.TensorFlow)
	_, err := io.WriteString(w, b.String())
	return err
}

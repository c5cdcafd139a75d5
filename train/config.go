package train

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/finegrain/finegrain/internal/tfserver"
	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/pipeline/synth"
	"github.com/finegrain/finegrain/weights/hub"
)

// Config is a resolved run configuration. Every field is one configuration key, named by the yaml tags of
// its section and field (for example model.attention); the doc tags are the key reference that
// configs/README.md shows. Defaults live in configs/defaults.yaml.
type Config struct {
	// Model is the network, whose keys and rules are nets.Config's, and the weights it starts from,
	// which are training's.
	Model struct {
		nets.Config  `yaml:",inline"`
		Pretrained   string `yaml:"pretrained" doc:"weights to start from: a .pth, .bin or .safetensors file in torchvision's naming, or a known name (go run ./cmd/weights list), e.g. torchvision/resnet50.v2; empty trains from scratch"`
		StrictImport bool   `yaml:"pretrained_strict" doc:"refuse a model.pretrained file whose backbone tensors are missing, unused or of the wrong shape; false accepts a partial load, listed in RUN/pretrained.json"`
	} `yaml:"model" doc:"the network"`
	Data       DataConfig       `yaml:"data" doc:"the dataset and its input pipeline"`
	Train      TrainConfig      `yaml:"train" doc:"the optimisation"`
	Checkpoint CheckpointConfig `yaml:"checkpoint" doc:"checkpoints in RUN/checkpoints"`
	Log        LogConfig        `yaml:"log" doc:"progress output and logs"`
	Runtime    RuntimeConfig    `yaml:"runtime" doc:"the TensorFlow session"`
	Cluster    ClusterConfig    `yaml:"cluster" doc:"TensorFlow workers to train on (cmd/worker)"`
	Run        RunConfig        `yaml:"run" doc:"the run directory"`
}

// DataConfig is the dataset and the input pipeline.
type DataConfig struct {
	Format       string          `yaml:"format" doc:"dataset layout: cub, dogs, cars, folder or synthetic"`
	Root         string          `yaml:"root" doc:"dataset directory (relative paths are relative to the working directory)"`
	ImageSize    int             `yaml:"image_size" doc:"side of the square network input in pixels, 16 to 4096"`
	ResizeSize   int             `yaml:"resize_size" doc:"shorter side the images are resized to before cropping, image_size to 8192; 0 (the default) follows data.image_size: image_size·8/7 (512 for 448, 256 for 224)"`
	TrainCrop    string          `yaml:"train_crop" doc:"training crop: random (resize then random crop) or random_resized (torchvision RandomResizedCrop)"`
	HFlip        bool            `yaml:"hflip" doc:"random horizontal flips in training"`
	Rotation     float64         `yaml:"rotation" doc:"random rotation range in degrees (±)"`
	ColorJitter  []float64       `yaml:"color_jitter" doc:"ColorJitter brightness, contrast, saturation, hue"`
	ValFraction  float64         `yaml:"val_fraction" doc:"fraction of each class of the training split held out for validation and model selection; 0 = none"`
	TestFraction float64         `yaml:"test_fraction" doc:"for a class-folder dataset without train/ and test/ folders: fraction of each class held out as the test split (a fixed seeded split, the same for every train.seed); 0 = the dataset must have its own test split"`
	Workers      int             `yaml:"workers" doc:"decoding and augmentation workers, at most 1024; 0 = number of CPUs"`
	Synthetic    SyntheticConfig `yaml:"synthetic" doc:"the generated benchmark (data.format: synthetic)"`
}

// SyntheticConfig sizes the generated fine-grained benchmark that data.format synthetic uses. When
// data.root holds no dataset yet, the trainer generates it there first.
type SyntheticConfig struct {
	Classes       int     `yaml:"classes" doc:"number of classes (species)"`
	FirstClass    int     `yaml:"first_class" doc:"the species the classes start at: classes are species first_class to first_class+classes-1 of the generator's fixed order, so sets with disjoint ranges (a pretraining set, a fine-grained set) share no species; first_class+classes at most 405"`
	PerClass      int     `yaml:"per_class" doc:"images per class, 2 to 10000, split into train and test by train_fraction"`
	TrainFraction float64 `yaml:"train_fraction" doc:"share of each class in the official training split, in (0, 1)"`
	ImageSize     int     `yaml:"image_size" doc:"side of the generated images in pixels, 32 to 2048"`
	Difficulty    float64 `yaml:"difficulty" doc:"clutter, lighting, pose variation and occlusion, in [0, 1]"`
	Seed          int64   `yaml:"seed" doc:"generator seed (the benchmark is a function of its settings)"`
}

// TrainConfig is the optimisation.
type TrainConfig struct {
	Epochs          int       `yaml:"epochs" doc:"training epochs, 1 to 100000"`
	BatchSize       int       `yaml:"batch_size" doc:"training batch size, 1 to 65536 (one batch of input images at most 2^29 values, 2 GiB)"`
	EvalBatchSize   int       `yaml:"eval_batch_size" doc:"evaluation batch size, at most 65536 (and 2^29 input values); 0 = batch_size"`
	Seed            int64     `yaml:"seed" doc:"seed of the initial weights, the data order and augmentation"`
	Deterministic   bool      `yaml:"deterministic" doc:"deterministic TensorFlow kernels: with a fixed seed two CPU runs give identical metrics"`
	Optimizer       string    `yaml:"optimizer" doc:"sgd (momentum) or adamw"`
	LR              float64   `yaml:"lr" doc:"peak learning rate of the new layers (classifier, attention), for batch_size"`
	BackboneLRMult  float64   `yaml:"backbone_lr_mult" doc:"learning-rate multiplier of the pretrained backbone (variables loaded from model.pretrained)"`
	Momentum        float64   `yaml:"momentum" doc:"sgd momentum"`
	Nesterov        bool      `yaml:"nesterov" doc:"sgd with Nesterov momentum"`
	WeightDecay     float64   `yaml:"weight_decay" doc:"weight decay (L2 for sgd, decoupled for adamw)"`
	Beta1           float64   `yaml:"beta1" doc:"adamw β1"`
	Beta2           float64   `yaml:"beta2" doc:"adamw β2"`
	Epsilon         float64   `yaml:"epsilon" doc:"adamw ε"`
	Schedule        string    `yaml:"schedule" doc:"learning-rate schedule after warm-up: cosine, step or constant"`
	WarmupEpochs    float64   `yaml:"warmup_epochs" doc:"linear warm-up from 0 over this many epochs (fractions allowed), at most 100000"`
	Milestones      []float64 `yaml:"milestones" doc:"step schedule: epochs at which the learning rate is multiplied by gamma"`
	Gamma           float64   `yaml:"gamma" doc:"step schedule factor"`
	MinLRFactor     float64   `yaml:"min_lr_factor" doc:"cosine schedule: final learning rate as a fraction of lr"`
	LabelSmoothing  float64   `yaml:"label_smoothing" doc:"label smoothing ε of the cross-entropy"`
	ClipGradNorm    float64   `yaml:"clip_grad_norm" doc:"clip the global gradient norm to this value; 0 = off"`
	MixedPrecision  bool      `yaml:"mixed_precision" doc:"GPU only: float16 compute (TensorFlow's auto mixed precision) with dynamic loss scaling"`
	Selection       string    `yaml:"selection" doc:"model for the test evaluation: best_val (best validation top-1; needs data.val_fraction > 0) or last"`
	EvalEveryEpochs int       `yaml:"eval_every_epochs" doc:"validate every this many epochs, 1 to 100000 (and always after the last)"`
}

// CheckpointConfig controls RUN/checkpoints.
type CheckpointConfig struct {
	Keep        int `yaml:"keep" doc:"keep the last N checkpoints, 1 to 100000 (the best one is kept besides)"`
	EveryEpochs int `yaml:"every_epochs" doc:"checkpoint every this many epochs, 1 to 100000 (and always after the last, and on SIGINT/SIGTERM)"`
}

// LogConfig controls progress output and the run's logs.
type LogConfig struct {
	EverySteps  int  `yaml:"every_steps" doc:"plain log line every this many steps when the output is not a terminal; 0 = per epoch only"`
	TensorBoard bool `yaml:"tensorboard" doc:"write TensorBoard event files in RUN/events"`
	CAMImages   int  `yaml:"cam_images" doc:"class-activation-map overlays of this many evaluation images in TensorBoard"`
}

// RuntimeConfig sets up the TensorFlow session.
type RuntimeConfig struct {
	IntraOpThreads int  `yaml:"intra_op_threads" doc:"threads inside one op, at most 1024; 0 = number of CPUs"`
	InterOpThreads int  `yaml:"inter_op_threads" doc:"ops run concurrently, at most 1024; 0 = TensorFlow's choice"`
	XLA            bool `yaml:"xla" doc:"XLA JIT compilation (on a CPU TensorFlow also needs TF_XLA_FLAGS=--tf_xla_cpu_global_jit in the environment)"`
	// Devices and CPUDevices are data-parallel training in one process (PlacementOf).
	Devices    []string `yaml:"devices" doc:"one training tower per device, e.g. [/device:GPU:0, /device:GPU:1]: train.batch_size is split evenly between them and their gradients averaged on the first; with cluster.workers, devices of every worker; empty = one tower where TensorFlow places it"`
	CPUDevices int      `yaml:"cpu_devices" doc:"split this process's CPU into N TensorFlow devices /device:CPU:0 to N-1 (towers without GPUs, for tests), at most 64; 0 or 1 = one"`
}

// ClusterConfig is data-parallel training on TensorFlow servers (cmd/worker): the trainer keeps the input
// pipeline and feeds every tower through the first worker.
type ClusterConfig struct {
	Workers           []string `yaml:"workers" doc:"host:port of each cmd/worker task, task 0 first: one tower per worker (and per runtime.devices entry), the variables and checkpoint writes on task 0; empty = train in this process"`
	OperationTimeoutS float64  `yaml:"operation_timeout_s" doc:"with cluster.workers: a step or evaluation batch that waits longer than this many seconds for a worker stops the run, naming the worker and the resume command; 1 to 86400"`
}

// RunConfig names the run directory.
type RunConfig struct {
	Dir string `yaml:"dir" doc:"run directory; empty = runs/<config file name>; -out overrides"`
}

// SynthConfig is the generator configuration of data.synthetic.
func (d DataConfig) SynthConfig() synth.Config {
	c := synth.DefaultConfig()
	s := d.Synthetic
	c.Classes, c.PerClass, c.TrainFraction, c.Size, c.Difficulty, c.Seed = s.Classes, s.PerClass, s.TrainFraction, s.ImageSize, s.Difficulty, uint64(s.Seed)
	c.FirstClass = s.FirstClass
	return c
}

// NetConfig is the network of model.* with numClasses outputs (model.num_classes 0 resolved), holding
// no memory of c: nil and empty model.attention_stages kept apart, as nets reads nil as every stage
// and an empty list as none.
func (c *Config) NetConfig(numClasses int) nets.Config {
	n := c.Model.Config
	n.NumClasses = numClasses
	n.AttentionStages = slices.Clone(n.AttentionStages)
	return n
}

// ResolvedResize is data.resize_size with 0 resolved to image_size·8/7 (512 for 448, 256 for 224).
func (d DataConfig) ResolvedResize() int {
	if d.ResizeSize > 0 {
		return d.ResizeSize
	}
	return d.ImageSize * 8 / 7
}

// EvalBatch is train.eval_batch_size with 0 resolved.
func (t TrainConfig) EvalBatch() int {
	if t.EvalBatchSize > 0 {
		return t.EvalBatchSize
	}
	return t.BatchSize
}

// DefaultRunDir is the run directory used when neither run.dir nor -out is given: runs/<name of the
// config file without extension>, or runs/run without a file.
func DefaultRunDir(configPath string) string {
	name := strings.TrimSuffix(filepath.Base(configPath), filepath.Ext(configPath))
	if configPath == "" || name == "" {
		name = "run"
	}
	return filepath.Join("runs", name)
}

// Upper bounds of the settings that size memory, threads or loops, checked before anything is
// allocated from them. They are far above any run this project makes, and low enough that products
// such as epochs × steps per epoch stay far from overflowing.
const (
	maxEpochs      = 100_000 // train.epochs, and every count or fraction of epochs
	maxBatch       = 65_536  // train.batch_size, train.eval_batch_size
	maxBatchValues = 1 << 29 // one batch of input images as float32: 2 GiB; the pipeline holds a few
	maxThreads     = 1024    // runtime.*_threads, data.workers
	maxResize      = 8192    // data.resize_size
	maxPerClass    = 10_000  // data.synthetic.per_class
	maxEverySteps  = 1 << 30 // log.every_steps
	gib            = float64(1 << 30)
)

// problem is one thing wrong with a configuration: the key, its value as shown to the user, and what
// is wanted instead.
type problem struct {
	key, value, want string
}

// format writes the problem as "key: value (from SOURCE): want", naming the environment variable or
// -set the value came from when from is not empty.
func (p problem) format(from string) string {
	if from != "" {
		return fmt.Sprintf("%s: %s (from %s): %s", p.key, p.value, from, p.want)
	}
	return fmt.Sprintf("%s: %s: %s", p.key, p.value, p.want)
}

// validate collects every problem of a decoded configuration, section by section; checkPaths also
// requires data.root and model.pretrained to exist.
func (c *Config) validate(checkPaths bool, stat func(string) error) []problem {
	var p problemList
	// Every float, alone or in a list, must be finite, whatever its key: this covers keys added later
	// without a range check of their own. Keys reported here get no other message.
	nonFinite := map[string]bool{}
	root := reflect.ValueOf(c).Elem()
	for _, k := range keySpecs() {
		if f := root.FieldByIndex(k.Index); !finite(f) {
			p.bad(k.Name, f.Interface(), errNotFinite.Error())
			nonFinite[k.Name] = true
		}
	}
	c.validateModel(&p, checkPaths)
	c.validateData(&p, checkPaths, stat)
	c.validateTrain(&p)
	c.validateCheckpoint(&p)
	c.validateLog(&p)
	c.validateRuntime(&p)
	c.validateCluster(&p)
	if len(nonFinite) == 0 {
		return p
	}
	kept := p[:0]
	for _, q := range p {
		if !nonFinite[q.key] || q.want == errNotFinite.Error() {
			kept = append(kept, q)
		}
	}
	return kept
}

// problemList collects the problems of a configuration, with the checks every section uses.
type problemList []problem

func (p *problemList) bad(key string, v any, want string) {
	*p = append(*p, problem{key, quoteIfString(v), want})
}

func (p *problemList) oneOf(key, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		p.bad(key, v, "want one of "+strings.Join(allowed, ", "))
	}
}

// inRange checks an integer key against [lo, hi]; want says it in words.
func (p *problemList) inRange(key string, v, lo, hi int, want string) {
	if v < lo || v > hi {
		p.bad(key, v, want)
	}
}

// validateModel adds to the network's rules (nets.Config.Problems) what is about training:
// model.num_classes 0 takes the dataset's count, an empty model.attention_stages is ambiguous in a file,
// and model.pretrained must resolve.
func (c *Config) validateModel(p *problemList, checkPaths bool) {
	m := c.Model
	for _, e := range m.Config.Problems() {
		if e.Key != "model.num_classes" { // checked below, where 0 is allowed
			*p = append(*p, problem{e.Key, e.Value, e.Want})
		}
	}
	p.inRange("model.num_classes", m.NumClasses, 0, nets.MaxNumClasses, fmt.Sprintf("want 0 (from the dataset) or a count up to %d", nets.MaxNumClasses))
	// An empty list could mean "no stage" (as in nets.Config) or "the default, every stage" (as it did
	// here once): neither reading is safe to guess, and both have a way to say them.
	if len(m.AttentionStages) == 0 {
		p.bad("model.attention_stages", m.AttentionStages, "an empty list is ambiguous: leave the key out (or list 1, 2, 3, 4) for gates in every stage, or set model.attention: none for no gates")
	}
	// Any width may start from weights of its own width (the protocol's ×0.5 pretraining); the strict
	// import compares every shape and names a width mismatch.
	if m.Pretrained != "" && checkPaths {
		if _, _, err := hub.Resolve(m.Pretrained, ""); err != nil {
			p.bad("model.pretrained", m.Pretrained, err.Error())
		}
	}
}

func (c *Config) validateData(p *problemList, checkPaths bool, stat func(string) error) {
	d := c.Data
	p.oneOf("data.format", d.Format, "cub", "dogs", "cars", "folder", "synthetic")
	if d.Root == "" {
		*p = append(*p, problem{"data.root", "missing", "want the dataset directory"})
	} else if checkPaths && d.Format != "synthetic" {
		if err := stat(d.Root); err != nil {
			p.bad("data.root", d.Root, "directory not found")
		}
	}
	p.inRange("data.image_size", d.ImageSize, 16, 4096, "want 16 to 4096 pixels")
	if d.ResizeSize != 0 && (d.ResizeSize < d.ImageSize || d.ResizeSize > maxResize) {
		p.bad("data.resize_size", d.ResizeSize, fmt.Sprintf("want 0 or data.image_size (%d) to %d pixels", d.ImageSize, maxResize))
	}
	p.oneOf("data.train_crop", d.TrainCrop, "random", "random_resized")
	if !(d.Rotation >= 0 && d.Rotation <= 180) {
		p.bad("data.rotation", d.Rotation, "want 0 to 180 degrees")
	}
	if len(d.ColorJitter) != 4 {
		p.bad("data.color_jitter", d.ColorJitter, "want 4 values: brightness, contrast, saturation, hue")
	} else {
		for i, v := range d.ColorJitter[:3] {
			if !(v >= 0 && v <= 1) {
				p.bad("data.color_jitter", d.ColorJitter, fmt.Sprintf("value %d (%g) wants 0 to 1", i+1, v))
			}
		}
		if h := d.ColorJitter[3]; !(h >= 0 && h <= 0.5) {
			p.bad("data.color_jitter", d.ColorJitter, fmt.Sprintf("hue (%g) wants 0 to 0.5", h))
		}
	}
	if !(d.ValFraction >= 0 && d.ValFraction < 1) {
		p.bad("data.val_fraction", d.ValFraction, "want a fraction in [0, 1)")
	}
	if !(d.TestFraction >= 0 && d.TestFraction < 1) {
		p.bad("data.test_fraction", d.TestFraction, "want 0 (the dataset's own test split) or a fraction in (0, 1)")
	}
	p.inRange("data.workers", d.Workers, 0, maxThreads, fmt.Sprintf("want 0 (number of CPUs) to %d", maxThreads))
	if d.Format == "synthetic" {
		c.validateSynthetic(p)
	}
}

func (c *Config) validateSynthetic(p *problemList) {
	s := c.Data.Synthetic
	p.inRange("data.synthetic.classes", s.Classes, 2, synth.MaxClasses, fmt.Sprintf("want 2 to %d", synth.MaxClasses))
	// Checked against classes clamped to its range, so a bad classes is not reported twice.
	last := synth.MaxClasses - min(max(s.Classes, 2), synth.MaxClasses)
	p.inRange("data.synthetic.first_class", s.FirstClass, 0, last,
		fmt.Sprintf("want 0 to %d: the generator has %d species, and first_class + data.synthetic.classes (%d) must be at most %d", last, synth.MaxClasses, s.Classes, synth.MaxClasses))
	p.inRange("data.synthetic.per_class", s.PerClass, 2, maxPerClass, fmt.Sprintf("want 2 to %d", maxPerClass))
	if !(s.TrainFraction > 0 && s.TrainFraction < 1) {
		p.bad("data.synthetic.train_fraction", s.TrainFraction, "want a fraction in (0, 1)")
	}
	p.inRange("data.synthetic.image_size", s.ImageSize, 32, 2048, "want 32 to 2048 pixels")
	if !(s.Difficulty >= 0 && s.Difficulty <= 1) {
		p.bad("data.synthetic.difficulty", s.Difficulty, "want 0 to 1")
	}
}

func (c *Config) validateTrain(p *problemList) {
	t := c.Train
	p.inRange("train.epochs", t.Epochs, 1, maxEpochs, fmt.Sprintf("want 1 to %d", maxEpochs))
	p.inRange("train.batch_size", t.BatchSize, 1, maxBatch, fmt.Sprintf("want 1 to %d", maxBatch))
	p.inRange("train.eval_batch_size", t.EvalBatchSize, 0, maxBatch, fmt.Sprintf("want 0 (= batch_size) to %d", maxBatch))
	p.batchValues("train.batch_size", t.BatchSize, c.Data.ImageSize)
	if t.EvalBatchSize > 0 {
		p.batchValues("train.eval_batch_size", t.EvalBatchSize, c.Data.ImageSize)
	}
	p.oneOf("train.optimizer", t.Optimizer, "sgd", "adamw")
	if !(t.LR > 0 && t.LR < 100) {
		p.bad("train.lr", t.LR, "want a value in (0, 100)")
	}
	if !(t.BackboneLRMult >= 0 && t.BackboneLRMult <= 10) {
		p.bad("train.backbone_lr_mult", t.BackboneLRMult, "want 0 to 10")
	}
	if !(t.Momentum >= 0 && t.Momentum < 1) {
		p.bad("train.momentum", t.Momentum, "want a value in [0, 1)")
	}
	if t.Nesterov && t.Momentum == 0 {
		p.bad("train.nesterov", t.Nesterov, "wants train.momentum > 0")
	}
	if !(t.WeightDecay >= 0 && t.WeightDecay < 1) {
		p.bad("train.weight_decay", t.WeightDecay, "want a value in [0, 1)")
	}
	if !(t.Beta1 >= 0 && t.Beta1 < 1) {
		p.bad("train.beta1", t.Beta1, "want a value in [0, 1)")
	}
	if !(t.Beta2 >= 0 && t.Beta2 < 1) {
		p.bad("train.beta2", t.Beta2, "want a value in [0, 1)")
	}
	if !(t.Epsilon > 0 && t.Epsilon < 1) {
		p.bad("train.epsilon", t.Epsilon, "want a value in (0, 1)")
	}
	p.oneOf("train.schedule", t.Schedule, "cosine", "step", "constant")
	if !(t.WarmupEpochs >= 0 && t.WarmupEpochs <= maxEpochs) {
		p.bad("train.warmup_epochs", t.WarmupEpochs, fmt.Sprintf("want 0 to %d (a warm-up longer than train.epochs never reaches train.lr)", maxEpochs))
	}
	prev := 0.0
	for _, m := range t.Milestones {
		if !(m > prev && m <= maxEpochs) {
			p.bad("train.milestones", t.Milestones, fmt.Sprintf("want increasing positive epochs up to %d", maxEpochs))
			break
		}
		prev = m
	}
	if !(t.Gamma > 0 && t.Gamma <= 1) {
		p.bad("train.gamma", t.Gamma, "want a value in (0, 1]")
	}
	if !(t.MinLRFactor >= 0 && t.MinLRFactor <= 1) {
		p.bad("train.min_lr_factor", t.MinLRFactor, "want 0 to 1")
	}
	if !(t.LabelSmoothing >= 0 && t.LabelSmoothing < 1) {
		p.bad("train.label_smoothing", t.LabelSmoothing, "want a value in [0, 1)")
	}
	if !(t.ClipGradNorm >= 0) {
		p.bad("train.clip_grad_norm", t.ClipGradNorm, "want 0 (off) or a positive norm")
	}
	p.oneOf("train.selection", t.Selection, "best_val", "last")
	if t.Selection == "best_val" && c.Data.ValFraction == 0 {
		p.bad("train.selection", t.Selection, "needs data.val_fraction > 0 (or use last)")
	}
	p.inRange("train.eval_every_epochs", t.EvalEveryEpochs, 1, maxEpochs, fmt.Sprintf("want 1 to %d", maxEpochs))
}

// batchValues bounds one batch of input images before the pipeline allocates it.
func (p *problemList) batchValues(key string, batch, size int) {
	if batch < 1 || batch > maxBatch || size < 16 || size > 4096 {
		return // reported for the key itself
	}
	if n := int64(batch) * int64(size) * int64(size) * 3; n > maxBatchValues {
		p.bad(key, batch, fmt.Sprintf("a batch of %d images of %d×%d pixels is %d values (%.1f GiB as float32), more than %d (%.0f GiB): lower %s or data.image_size",
			batch, size, size, n, float64(n)*4/gib, maxBatchValues, maxBatchValues*4/gib, key))
	}
}

func (c *Config) validateCheckpoint(p *problemList) {
	p.inRange("checkpoint.keep", c.Checkpoint.Keep, 1, maxEpochs, fmt.Sprintf("want 1 to %d", maxEpochs))
	p.inRange("checkpoint.every_epochs", c.Checkpoint.EveryEpochs, 1, maxEpochs, fmt.Sprintf("want 1 to %d", maxEpochs))
}

func (c *Config) validateLog(p *problemList) {
	p.inRange("log.every_steps", c.Log.EverySteps, 0, maxEverySteps, fmt.Sprintf("want 0 to %d", maxEverySteps))
	p.inRange("log.cam_images", c.Log.CAMImages, 0, 64, "want 0 to 64")
}

func (c *Config) validateRuntime(p *problemList) {
	p.inRange("runtime.intra_op_threads", c.Runtime.IntraOpThreads, 0, maxThreads, fmt.Sprintf("want 0 (number of CPUs) to %d", maxThreads))
	p.inRange("runtime.inter_op_threads", c.Runtime.InterOpThreads, 0, maxThreads, fmt.Sprintf("want 0 (TensorFlow's choice) to %d", maxThreads))
	p.inRange("runtime.cpu_devices", c.Runtime.CPUDevices, 0, maxCPUDevices, fmt.Sprintf("want 0 (one device) to %d", maxCPUDevices))
	for _, d := range c.Runtime.Devices {
		if strings.TrimSpace(d) == "" {
			p.bad("runtime.devices", c.Runtime.Devices, "an empty device name; want names like /device:GPU:0")
			break
		}
	}
}

// maxCPUDevices bounds runtime.cpu_devices: one device per core at most is all a test needs.
const maxCPUDevices = 64

// validateCluster checks the worker list and that train.batch_size splits evenly into the towers.
func (c *Config) validateCluster(p *problemList) {
	if len(c.Cluster.Workers) > 0 && !(c.Cluster.OperationTimeoutS >= 1 && c.Cluster.OperationTimeoutS <= 86400) {
		p.bad("cluster.operation_timeout_s", c.Cluster.OperationTimeoutS, "want 1 to 86400 seconds")
	}
	if len(c.Cluster.Workers) > 0 {
		if _, err := tfserver.ParseCluster(strings.Join(c.Cluster.Workers, ",")); err != nil {
			p.bad("cluster.workers", c.Cluster.Workers, err.Error())
			return
		}
		for _, d := range c.Runtime.Devices {
			if _, _, err := localDevice(d); err != nil {
				p.bad("runtime.devices", c.Runtime.Devices, err.Error())
				return
			}
		}
	}
	if n := max(1, len(c.Runtime.Devices)) * max(1, len(c.Cluster.Workers)); n > 1 && c.Train.BatchSize%n != 0 {
		p.bad("train.batch_size", c.Train.BatchSize, fmt.Sprintf("want a multiple of the %d towers (runtime.devices × cluster.workers), each taking an equal share", n))
	}
}

// finite reports whether a float field, or every float of a list field, is finite; other fields are.
func finite(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		return !math.IsNaN(f) && !math.IsInf(f, 0)
	case reflect.Slice:
		for i := range v.Len() {
			if !finite(v.Index(i)) {
				return false
			}
		}
	}
	return true
}

func quoteIfString(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case nil:
		return "null" // as YAML writes a key without a value
	}
	return fmt.Sprint(v)
}

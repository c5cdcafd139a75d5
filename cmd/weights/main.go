// Command weights handles pretrained weights: lists the known ones, downloads them into the cache,
// inspects and converts weight files, and exports a trained run's weights for PyTorch:
//
//	go run ./cmd/weights list
//	go run ./cmd/weights get torchvision/resnet50.v2
//	go run ./cmd/weights inspect resnet50-11ad3fa6.pth -config configs/csca_cub.yaml
//	go run ./cmd/weights convert checkpoint.pth resnet50.safetensors
//	go run ./cmd/weights export runs/none_cub none_cub.safetensors
//
// The cache is $FINEGRAIN_WEIGHTS, default ~/.cache/finegrain/weights; model.pretrained takes a known
// name (resolved in the cache, never downloaded behind the user's back) or a file's path.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"

	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/ops"
	"github.com/finegrain/finegrain/train"
	"github.com/finegrain/finegrain/weights"
	"github.com/finegrain/finegrain/weights/hub"
)

func main() {
	cli.QuietLogs()
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

const usage = `Usage: weights COMMAND [flags] [arguments]

Lists, downloads, inspects, converts and exports pretrained weights.

Known weights by name go into a cache; weight files (.pth, .bin, .safetensors) can be inspected against
a model and converted; a trained run's weights can be written back under torchvision's names.

Commands:
  list [-json]                          the known weights: source URL, hash check, reported ImageNet
                                        top-1, evaluation resize/crop, whether it is in the cache
  get NAME...                           download into the cache (resumes, checks the sha256)
  inspect FILE [-config C] [-set k=v]   the file's tensors; with a configuration, which variable
                                        each tensor fills and what would stay initialised
  convert [-strip-prefix P] IN OUT.safetensors
                                        rewrite a weights file as safetensors
  export [-config C] [-best] RUN OUT.safetensors
                                        a run's weights under torchvision's names (a none model
                                        loads into torchvision.models.resnetNN with strict=True)

The cache is $FINEGRAIN_WEIGHTS, default ~/.cache/finegrain/weights. Use a known name in a
configuration as model.pretrained: torchvision/resnet50.v2 (it must be in the cache: get it first).

Examples:
  go run ./cmd/weights list
  go run ./cmd/weights get torchvision/resnet50.v2
  go run ./cmd/weights inspect ~/Downloads/resnet50-11ad3fa6.pth -config configs/csca_cub.yaml
  go run ./cmd/weights convert -strip-prefix backbone. detector.pth resnet50.safetensors
  go run ./cmd/weights export runs/none_cub none_cub.safetensors

Run "weights COMMAND -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) int{
		"list": list, "get": get, "inspect": inspect, "convert": convert, "export": export,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "weights: unknown command %q (want list, get, inspect, convert or export; see -h)\n", args[0])
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cmd(ctx, args[1:], stdout, stderr)
}

// flags is a subcommand's flag set with its usage text.
func flags(name, synopsis, text string, stderr io.Writer) *flag.FlagSet {
	fl := flag.NewFlagSet("weights "+name, flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage: weights %s %s\n\n%s\n", name, synopsis, text)
		var n int
		fl.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(stderr, "Flags:")
			fl.PrintDefaults()
		}
	}
	return fl
}

// parse parses args (flags may follow the positional arguments); done is set with the exit status when
// the command should stop (-h: 0, a bad flag or argument count: 2).
func parse(fl *flag.FlagSet, args []string, nargs func(int) bool, stderr io.Writer) (pos []string, code int, done bool) {
	for {
		if err := fl.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, true
			}
			return nil, exitUsage, true
		}
		if fl.NArg() == 0 {
			break
		}
		pos = append(pos, fl.Arg(0))
		args = fl.Args()[1:]
	}
	if !nargs(len(pos)) {
		fmt.Fprintf(stderr, "%s: wrong arguments %q (see -h)\n", fl.Name(), pos)
		return nil, exitUsage, true
	}
	return pos, exitOK, false
}

func list(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flags("list", "[-json]", `Lists the known weights: name, source URL, what the download is checked against, the file
size when known, the ImageNet-1k top-1 reported for them at their evaluation resize/crop and where
that figure comes from, and whether the file is in the cache.

Examples:
  go run ./cmd/weights list
  go run ./cmd/weights list -json`, stderr)
	asJSON := fl.Bool("json", false, "print the catalogue as JSON")
	if _, code, done := parse(fl, args, func(n int) bool { return n == 0 }, stderr); done {
		return code
	}
	dir, err := hub.CacheDir()
	if err != nil {
		fmt.Fprintf(stderr, "weights list: %v\n", err)
		return exitFailed
	}
	if *asJSON {
		type row struct {
			hub.Entry
			Check  string `json:"check"`
			Cached string `json:"cached,omitempty"`
		}
		var rows []row
		for _, e := range hub.Known {
			r := row{Entry: e, Check: e.HashCheck()}
			if _, err := os.Stat(e.Path(dir)); err == nil {
				r.Cached = e.Path(dir)
			}
			rows = append(rows, r)
		}
		b, _ := json.MarshalIndent(rows, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return exitOK
	}
	fmt.Fprintf(stdout, "Known weights (cache: %s; $%s sets it)\n", dir, hub.CacheEnv)
	for _, e := range hub.Known {
		fmt.Fprintf(stdout, "\n%s", e.Name)
		if len(e.Aliases) > 0 {
			fmt.Fprintf(stdout, "  (also %s)", strings.Join(e.Aliases, ", "))
		}
		fmt.Fprintf(stdout, "\n  url     %s\n  sha256  %s\n", e.URL, e.HashCheck())
		if e.Size > 0 {
			fmt.Fprintf(stdout, "  size    %d bytes\n", e.Size)
		} else {
			fmt.Fprintf(stdout, "  size    not recorded here (the download reports it)\n")
		}
		fmt.Fprintf(stdout, "  top-1   %.3f%% on ImageNet-1k val at resize %d, centre crop %d, as reported: %s\n", e.Top1, e.ResizeSize, e.CropSize, e.Reported)
		if e.Notes != "" {
			fmt.Fprintf(stdout, "  note    %s\n", e.Notes)
		}
		if _, err := os.Stat(e.Path(dir)); err == nil {
			fmt.Fprintf(stdout, "  cached  %s\n", e.Path(dir))
		} else {
			fmt.Fprintf(stdout, "  cached  no: %s\n", e.GetCommand())
		}
	}
	return exitOK
}

func get(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flags("get", "NAME...", `Downloads known weights into the cache ($FINEGRAIN_WEIGHTS, default ~/.cache/finegrain/weights)
with a progress bar: into NAME's file plus .part, resuming a partial download, checking the sha256
against what is known of it, then renaming it into place. A file already in the cache is checked
again instead. The names are those of "weights list".

Examples:
  go run ./cmd/weights get torchvision/resnet50.v2
  FINEGRAIN_WEIGHTS=/data/weights go run ./cmd/weights get torchvision/resnet18.v1 timm/resnet50.a1_in1k`, stderr)
	quiet := fl.Bool("quiet", false, "no progress bar")
	names, code, done := parse(fl, args, func(n int) bool { return n > 0 }, stderr)
	if done {
		return code
	}
	var entries []hub.Entry
	for _, n := range names {
		e, err := hub.Find(n)
		if err != nil {
			fmt.Fprintf(stderr, "weights get: %v\n", err)
			return exitUsage
		}
		entries = append(entries, e)
	}
	var progress io.Writer = stderr
	if *quiet {
		progress = nil
	}
	for _, e := range entries {
		res, err := hub.Get(ctx, e, hub.GetOptions{Progress: progress})
		if err != nil {
			fmt.Fprintf(stderr, "weights get: %v\n", err)
			return exitFailed
		}
		state := "downloaded"
		switch {
		case res.Cached:
			state = "already in the cache"
		case res.Resumed > 0:
			state = fmt.Sprintf("downloaded (resumed after %d bytes)", res.Resumed)
		}
		fmt.Fprintf(stdout, "%s: %s: %s (%d bytes)\n  sha256 %s, checked against %s\n  use it with: -set model.pretrained=%s\n", e.Name, state, res.Path, res.Size, res.SHA256, res.Check, e.Name)
		if strings.HasPrefix(res.Check, "NOTHING") {
			fmt.Fprintf(stderr, "weights get: warning: %s was not checked against any known digest\n", e.Name)
		}
	}
	return exitOK
}

func inspect(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flags("inspect", "FILE|NAME [-config C] [-set key=value]... [-json]", `Lists the tensors of a weights file (.pth, .bin or .safetensors; or a known name in the cache):
format, sha256, the wrapper and prefix found, each tensor's dtype and shape. With a configuration,
also which graph variable each tensor fills, what would start fresh and what a strict import
(model.pretrained_strict) would refuse; the exit status is then 1 when it would refuse.

Examples:
  go run ./cmd/weights inspect resnet50-11ad3fa6.pth
  go run ./cmd/weights inspect torchvision/resnet50.v2 -config configs/csca_cub.yaml
  go run ./cmd/weights inspect checkpoint.pth -config configs/none_cars.yaml -set model.depth=18`, stderr)
	var cf train.ConfigFlags
	cf.Register(fl)
	asJSON := fl.Bool("json", false, "print the file's tensors (and the plan) as JSON")
	pos, code, done := parse(fl, args, func(n int) bool { return n == 1 }, stderr)
	if done {
		return code
	}
	path, _, err := hub.Resolve(pos[0], "")
	if err != nil {
		fmt.Fprintf(stderr, "weights inspect: %v\n", err)
		return exitFailed
	}
	f, err := weights.Read(path)
	if err != nil {
		fmt.Fprintf(stderr, "weights inspect: %v\n", err)
		return exitFailed
	}
	type tensor struct {
		Name  string  `json:"name"`
		DType string  `json:"dtype"`
		Shape []int64 `json:"shape"`
	}
	out := struct {
		File      string             `json:"file"`
		Format    string             `json:"format"`
		SHA256    string             `json:"sha256"`
		Size      int64              `json:"size"`
		Wrapper   string             `json:"wrapper,omitempty"`
		Prefix    string             `json:"stripped_prefix,omitempty"`
		Ignored   []string           `json:"ignored,omitempty"`
		Tensors   []tensor           `json:"tensors"`
		Model     string             `json:"model,omitempty"`
		Mapping   []nets.Mapping     `json:"mapping,omitempty"`
		Report    *nets.ImportReport `json:"report,omitempty"`
		Diagnosis string             `json:"diagnosis,omitempty"`
		Refused   string             `json:"refused,omitempty"`
	}{File: path, Format: f.Format, SHA256: f.SHA256, Size: f.Size, Wrapper: f.Wrapper, Prefix: f.Prefix, Ignored: f.Ignored}
	var params int64
	for _, n := range f.Names() {
		t := f.Tensors[n]
		out.Tensors = append(out.Tensors, tensor{n, t.DType, t.Shape})
		params += weights.Numel(t.Shape)
	}
	var planErr error
	if cf.Path != "" || len(cf.Sets) > 0 {
		cfg, err := cf.Load(false)
		if err != nil {
			fmt.Fprintf(stderr, "weights inspect: %v\n", err)
			return exitUsage
		}
		k, note := cfg.Model.NumClasses, "model.num_classes"
		if k == 0 {
			k, note = 1000, "model.num_classes is 0 (the dataset's count), and the file has no classifier: assuming 1000; -set model.num_classes=K shows another"
			if fc, ok := f.Tensors["fc.weight"]; ok && len(fc.Shape) == 2 {
				k, note = int(fc.Shape[0]), "model.num_classes is 0 (the dataset's count): assuming the file's classifier's; -set model.num_classes=K shows fine-tuning to K classes"
			}
		}
		vars, err := variables(cfg.NetConfig(k))
		if err != nil {
			fmt.Fprintf(stderr, "weights inspect: %v\n", err)
			return exitFailed
		}
		out.Model = fmt.Sprintf("%s-ResNet%d ×%g, %d classes (%s), %d variables", cfg.Model.Attention, cfg.Model.Depth, cfg.Model.WidthMultiplier, k, note, len(vars))
		plan, err := nets.PlanImport(vars, f, nets.ImportOptions{Partial: !cfg.Model.StrictImport})
		out.Mapping, out.Report, out.Diagnosis = plan.Assign, &plan.Report, plan.Diagnosis
		if err != nil {
			planErr = err
			out.Refused = err.Error()
		}
	}
	if *asJSON {
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		fmt.Fprintf(stdout, "%s\n  format  %s\n  sha256  %s\n  size    %d bytes\n", path, f.Format, f.SHA256, f.Size)
		if f.Wrapper != "" {
			fmt.Fprintf(stdout, "  state dict under %q\n", f.Wrapper)
		}
		if f.Prefix != "" {
			fmt.Fprintf(stdout, "  prefix %q stripped from every name\n", f.Prefix)
		}
		if len(f.Ignored) > 0 {
			fmt.Fprintf(stdout, "  entries that are not tensors: %s\n", strings.Join(f.Ignored, " "))
		}
		fmt.Fprintf(stdout, "  %d tensors, %d values\n\n", len(f.Tensors), params)
		mapped := map[string]nets.Mapping{}
		for _, m := range out.Mapping {
			mapped[m.Tensor] = m
		}
		for _, t := range out.Tensors {
			line := fmt.Sprintf("%-44s %-5s %v", t.Name, t.DType, t.Shape)
			if m, ok := mapped[t.Name]; ok {
				line = fmt.Sprintf("%-60s -> %s", line, m.Variable)
				if m.Convert != "" {
					line += " (" + m.Convert + ")"
				}
			}
			fmt.Fprintln(stdout, line)
		}
		if out.Report != nil {
			r := out.Report
			fmt.Fprintf(stdout, "\nmodel %s\n", out.Model)
			fmt.Fprintf(stdout, "  loaded       %d variables\n", len(r.Loaded))
			fmt.Fprintf(stdout, "  initialised  %d: %s\n", len(r.Initialised), brief(r.Initialised, 12))
			fmt.Fprintf(stdout, "  unused       %d: %s\n", len(r.Unused), brief(r.Unused, 12))
			fmt.Fprintf(stdout, "  skipped      %d num_batches_tracked counters\n", len(r.Skipped))
			for _, n := range r.Notes {
				fmt.Fprintf(stdout, "  note         %s\n", n)
			}
			switch {
			case planErr != nil:
				fmt.Fprintf(stdout, "\nREFUSED: %v\n", planErr)
			case len(r.Problems) > 0:
				fmt.Fprintf(stdout, "\npartial import (model.pretrained_strict: false) accepts %d problems:\n  %s\n", len(r.Problems), strings.Join(r.Problems, "\n  "))
			default:
				fmt.Fprintln(stdout, "\nstrict import: OK")
			}
		}
	}
	if planErr != nil {
		return exitFailed
	}
	return exitOK
}

// brief joins at most n names (-json lists them all).
func brief(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, " ")
	}
	return fmt.Sprintf("%s ... and %d more (-json lists them all)", strings.Join(names[:n], " "), len(names)-n)
}

// variables builds cfg's inference graph (no session) and lists its variables.
func variables(cfg nets.Config) ([]nets.VarSpec, error) {
	g := ops.NewGraph(1)
	err := ops.Catch("inspect graph", g, func() error {
		images := op.Placeholder(g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(1, 224, 224, 3)))
		_, err := nets.Build(g.Head("head", false), images, cfg)
		return err
	})
	if err != nil {
		return nil, err
	}
	return nets.VarSpecs(g), nil
}

func convert(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flags("convert", "[-strip-prefix P] [-force] IN OUT.safetensors", `Rewrites a weights file (.pth, .bin: torch.save's zip or legacy format; .safetensors; or a known
name in the cache) as a safetensors file: the state dict found in it (under "state_dict", "model" or
"model_state_dict"; "module." stripped), every tensor in its own dtype. -strip-prefix keeps only the
tensors under a prefix, without it (a backbone inside a larger model). The output is written
atomically and records the source's name and sha256 in its metadata.

Examples:
  go run ./cmd/weights convert resnet50-11ad3fa6.pth resnet50.safetensors
  go run ./cmd/weights convert -strip-prefix backbone.body. detector.pth resnet50.safetensors`, stderr)
	prefix := fl.String("strip-prefix", "", "keep only the tensors whose names start with `PREFIX`, without it")
	force := fl.Bool("force", false, "overwrite OUT if it exists")
	pos, code, done := parse(fl, args, func(n int) bool { return n == 2 }, stderr)
	if done {
		return code
	}
	in, outPath := pos[0], pos[1]
	if !strings.HasSuffix(outPath, ".safetensors") {
		fmt.Fprintf(stderr, "weights convert: %s: the output is a safetensors file, want a name ending in .safetensors\n", outPath)
		return exitUsage
	}
	if _, err := os.Stat(outPath); err == nil && !*force {
		fmt.Fprintf(stderr, "weights convert: %s exists (use -force to overwrite it)\n", outPath)
		return exitFailed
	}
	path, _, err := hub.Resolve(in, "")
	if err != nil {
		fmt.Fprintf(stderr, "weights convert: %v\n", err)
		return exitFailed
	}
	f, err := weights.Read(path)
	if err != nil {
		fmt.Fprintf(stderr, "weights convert: %v\n", err)
		return exitFailed
	}
	if *prefix != "" {
		dropped := f.StripPrefix(*prefix)
		if len(f.Tensors) == 0 {
			fmt.Fprintf(stderr, "weights convert: no tensor of %s starts with %q (its names begin like %s)\n", path, *prefix, strings.Join(firstNames(dropped, 3), ", "))
			return exitFailed
		}
		if len(dropped) > 0 {
			fmt.Fprintf(stderr, "weights convert: left out %d tensors outside %q (e.g. %s)\n", len(dropped), *prefix, strings.Join(firstNames(dropped, 3), ", "))
		}
	}
	meta := map[string]string{"format": "pt", "source": filepath.Base(path), "source_sha256": f.SHA256}
	if err := weights.WriteSafetensors(outPath, f.Tensors, meta); err != nil {
		fmt.Fprintf(stderr, "weights convert: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "wrote %s: %d tensors from %s (%s, sha256 %s)\n", outPath, len(f.Tensors), path, f.Format, f.SHA256)
	return exitOK
}

func firstNames(names []string, n int) []string {
	sort.Strings(names)
	if len(names) > n {
		return append(names[:n:n], "...")
	}
	return names
}

func export(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flags("export", "[-config C] [-set key=value]... [-best|-latest] RUN OUT.safetensors", `Writes a trained model's weights as a safetensors file under torchvision's state-dict names, in
PyTorch's layouts, with BN's num_batches_tracked counters: a none (or fcn) model loads into
torchvision.models.resnetNN(num_classes=K) with load_state_dict(strict=True). Gated models add their
gates under extra names (layer1.0.ca.fc1.weight, layer1.0.sa.conv.weight, layer1.0.csca.ca.fc2.bias,
...; the graph's variable paths with "." for "/" and torchvision's parameter names), which torchvision's
ResNet does not define: load those with strict=False, or import the file back here. RUN is a run
directory (the checkpoint it selected and evaluated, or -best / -latest, as cmd/eval and cmd/export
choose), a checkpoint directory or a variables prefix; without -config the run's config.yaml is used.

Examples:
  go run ./cmd/weights export runs/none_cub none_cub.safetensors
  go run ./cmd/weights export -best runs/csca_cub csca_cub.safetensors
  go run ./cmd/weights export -config configs/none_cars.yaml runs/x/checkpoints/epoch-010 x.safetensors`, stderr)
	var cf train.ConfigFlags
	cf.Register(fl)
	var pf train.PickFlags
	pf.Register(fl)
	force := fl.Bool("force", false, "overwrite OUT if it exists")
	pos, code, done := parse(fl, args, func(n int) bool { return n == 2 }, stderr)
	if done {
		return code
	}
	src, outPath := pos[0], pos[1]
	pick, err := pf.Pick()
	if err != nil {
		fmt.Fprintf(stderr, "weights export: %v\n", err)
		return exitUsage
	}
	if _, err := os.Stat(outPath); err == nil && !*force {
		fmt.Fprintf(stderr, "weights export: %s exists (use -force to overwrite it)\n", outPath)
		return exitFailed
	}
	if err := exportRun(ctx, &cf, src, pick, outPath, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "weights export: %v\n", err)
		return exitFailed
	}
	return exitOK
}

func exportRun(ctx context.Context, cf *train.ConfigFlags, src string, pick train.Pick, outPath string, stdout, stderr io.Writer) error {
	// The checkpoint rule of cmd/eval and cmd/export, with their checks of the run's own files.
	ckdir, prefix, why, err := train.PickCheckpoint(src, pick)
	if err != nil {
		return err
	}
	if why != "" {
		fmt.Fprintf(stderr, "weights export: %s\n", why)
	}
	numClasses := 0
	if runDir := train.RunDirOf(ckdir); runDir != "" {
		if runCfg := filepath.Join(runDir, "config.yaml"); cf.Path == "" {
			if _, err := os.Stat(runCfg); err == nil {
				cf.Path = runCfg
			}
		}
		if b, err := os.ReadFile(filepath.Join(runDir, "summary.json")); err == nil {
			var s struct {
				NumClasses int `json:"num_classes"`
			}
			if err := json.Unmarshal(b, &s); err != nil {
				return fmt.Errorf("%s: %w", filepath.Join(runDir, "summary.json"), err)
			}
			numClasses = s.NumClasses
		}
	}
	if cf.Path == "" {
		return fmt.Errorf("%s is not a run directory (no config.yaml): give the model's configuration with -config", src)
	}
	cfg, err := cf.Load(false)
	if err != nil {
		return err
	}
	if cfg.Model.NumClasses != 0 {
		numClasses = cfg.Model.NumClasses
	}
	if numClasses == 0 {
		return fmt.Errorf("the class count is unknown (model.num_classes is 0 and there is no summary.json): give it with -set model.num_classes=K")
	}
	if err := train.CheckArchitecture(ckdir, cfg.NetConfig(numClasses)); err != nil {
		return err
	}
	g := ops.NewGraph(1)
	err = ops.Catch("export graph", g, func() error {
		images := op.Placeholder(g.Root().SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, 224, 224, 3)))
		_, err := nets.Build(g.Head("head", false), images, cfg.NetConfig(numClasses))
		return err
	})
	if err != nil {
		return err
	}
	sess, err := ops.DefaultSessionConfig().NewSession(g.TF())
	if err != nil {
		return err
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		return err
	}
	if err := g.Saver().RestoreFrom(sess, prefix); err != nil {
		return fmt.Errorf("restore %s: %w", prefix, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ts, err := nets.ExportTorchvision(sess, g)
	if err != nil {
		return err
	}
	meta := map[string]string{
		"format": "pt", "source": prefix, "attention": string(cfg.Model.Attention),
		"depth": fmt.Sprint(cfg.Model.Depth), "num_classes": fmt.Sprint(numClasses),
	}
	if err := weights.WriteSafetensors(outPath, ts, meta); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d tensors of %s-ResNet%d (%d classes) from %s\n", outPath, len(ts), cfg.Model.Attention, cfg.Model.Depth, numClasses, prefix)
	if !cfg.Model.Attention.Gated() {
		fmt.Fprintf(stdout, "load it in PyTorch with torchvision.models.resnet%d(num_classes=%d).load_state_dict(tensors, strict=True)\n", cfg.Model.Depth, numClasses)
	} else {
		fmt.Fprintf(stdout, "the %s gates are under extra names (layerS.B.%s.*): torchvision.models.resnet%d loads the backbone and classifier with strict=False\n", cfg.Model.Attention, cfg.Model.Attention, cfg.Model.Depth)
	}
	return nil
}

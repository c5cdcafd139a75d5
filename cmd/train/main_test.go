package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finegrain/finegrain/internal/pyref"
)

func writeJPEG(t *testing.T, path string, shade uint8) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = shade + uint8(i%7)
	}
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := jpeg.Encode(f, img, nil); err != nil {
		t.Fatal(err)
	}
}

func writeText(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Tiny datasets in the real formats: 2 classes × (10 train + 2 test) images, enough for one batch of 16
// after a 10% validation split.
const perClassTrain, perClassTest = 10, 2

func fakeCUB(t *testing.T, root string) {
	var images, labels, split strings.Builder
	id := 0
	for c, name := range []string{"001.Albatross", "002.Auklet"} {
		for i := range perClassTrain + perClassTest {
			id++
			rel := fmt.Sprintf("%s/img_%02d.jpg", name, i)
			writeJPEG(t, filepath.Join(root, "images", rel), uint8(40*c+i))
			fmt.Fprintf(&images, "%d %s\n", id, rel)
			fmt.Fprintf(&labels, "%d %d\n", id, c+1)
			fmt.Fprintf(&split, "%d %d\n", id, map[bool]int{true: 1, false: 0}[i < perClassTrain])
		}
	}
	writeText(t, filepath.Join(root, "images.txt"), images.String())
	writeText(t, filepath.Join(root, "image_class_labels.txt"), labels.String())
	writeText(t, filepath.Join(root, "train_test_split.txt"), split.String())
	writeText(t, filepath.Join(root, "classes.txt"), "1 001.Albatross\n2 002.Auklet\n")
}

func fakeCars(t *testing.T, root string) {
	for _, sp := range []struct {
		split string
		n     int
	}{{"train", perClassTrain}, {"test", perClassTest}} {
		var csv strings.Builder
		csv.WriteString("fname,class\n")
		for c := range 2 {
			for i := range sp.n {
				name := fmt.Sprintf("%d%02d.jpg", c, i)
				writeJPEG(t, filepath.Join(root, "cars_"+sp.split, name), uint8(60*c+i))
				fmt.Fprintf(&csv, "%s,%d\n", name, c+1)
			}
		}
		writeText(t, filepath.Join(root, sp.split+".csv"), csv.String())
	}
	writeText(t, filepath.Join(root, "names.csv"), "AM General Hummer SUV 2000\nAcura RL Sedan 2012\n")
}

// fakeDogs writes the Stanford Dogs lists with scipy.io.savemat, as the real files were written.
func fakeDogs(t *testing.T, root string) {
	py := pyref.Torch(t)
	script := `
import sys, os, numpy as np, scipy.io as sio
root, ntrain, ntest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
folders = ['n02085620-Chihuahua', 'n02085782-Japanese_spaniel']
for split, n in (('train', ntrain), ('test', ntest)):
    files = [('%s/%s_%d.jpg' % (f, f[:9], i + (100 if split == 'test' else 0)), c + 1) for c, f in enumerate(folders) for i in range(n)]
    cell = np.empty(len(files), dtype=object)
    for i, (p, _) in enumerate(files):
        cell[i] = p
        print(p)
    os.makedirs(os.path.join(root, 'lists'), exist_ok=True)
    sio.savemat(os.path.join(root, 'lists', split + '_list.mat'),
                {'file_list': cell.reshape(-1, 1), 'labels': np.array([[float(l)] for _, l in files])})
`
	out := pyref.Run(t, py, script, root, fmt.Sprint(perClassTrain), fmt.Sprint(perClassTest))
	for i, p := range strings.Fields(string(out)) {
		writeJPEG(t, filepath.Join(root, "Images", p), uint8(i*5))
	}
}

// TestDryRunEveryConfig runs -dry-run -json on every configuration in configs/, pointing the grid's
// dataset and weight paths at tiny stand-ins in the real formats.
func TestDryRunEveryConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the training graph of every configuration")
	}
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) < 16 {
		t.Fatalf("configs: %v %v, want the 15 grid files and demo.yaml", files, err)
	}
	tmp := t.TempDir()
	weights := filepath.Join(tmp, "resnet50.safetensors")
	writeText(t, weights, "")
	roots := map[string]string{}
	makers := map[string]func(*testing.T, string){"cub": fakeCUB, "cars": fakeCars, "dogs": fakeDogs}
	for _, f := range files {
		name := filepath.Base(f)
		if name == "defaults.yaml" {
			continue
		}
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			sets := []string{"-set", "model.pretrained=" + weights}
			ds := strings.TrimSuffix(name[strings.LastIndex(name, "_")+1:], ".yaml")
			if mk, ok := makers[ds]; ok {
				if roots[ds] == "" {
					roots[ds] = filepath.Join(tmp, ds)
					mk(t, roots[ds])
				}
				sets = append(sets, "-set", "data.root="+roots[ds])
			} else { // demo: a synthetic dataset to be generated into an empty directory
				sets = []string{"-set", "data.root=" + filepath.Join(tmp, "synth-"+name)}
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"-config", f, "-dry-run", "-json"}, sets...)
			if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d:\n%s", code, stderr.String())
			}
			var plan struct {
				Dataset struct{ Classes, Train, Val, Test int }
				Params  int64
				Model   struct{ Attention string }
			}
			if err := json.Unmarshal(stdout.Bytes(), &plan); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
			}
			d := plan.Dataset
			if d.Classes < 2 || d.Train < 16 || d.Val < 1 || d.Test < 1 || plan.Params < 1e5 {
				t.Errorf("plan %s", stdout.String())
			}
			if !strings.HasPrefix(name, plan.Model.Attention+"_") && name != "demo.yaml" && !strings.HasPrefix(name, "protocol_") {
				t.Errorf("%s builds attention %q", name, plan.Model.Attention)
			}
		})
	}
}

func TestConfigErrorsListedBeforeWork(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.yaml")
	writeText(t, cfg, "model:\n  attention: cbam\n  depht: 50\ntrain:\n  epochs: -1\ndata:\n  root: "+filepath.Join(dir, "missing")+"\n")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-config", cfg, "-set", "train.lr=fast", "-out", filepath.Join(dir, "run")}, &stdout, &stderr)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{"5 problems", "model.attention", "model.depht: unknown key (did you mean model.depth?)", "train.epochs: -1", `train.lr: "fast" (from -set)`, "directory not found"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); err == nil {
		t.Error("a run directory was created for an invalid configuration")
	}
	for _, args := range [][]string{{"-h"}, {"-keys"}} {
		stdout.Reset()
		stderr.Reset()
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 || stdout.Len()+stderr.Len() == 0 {
			t.Errorf("%v: exit %d, output %q", args, code, stdout.String()+stderr.String())
		}
	}
}

// TestSIGINTCheckpointsAndResumes runs the command as a process on a tiny synthetic dataset, sends
// SIGINT once it is training, and checks the clean exit (status 130, a resume hint, a checkpoint), then
// resumes the run to the end.
func TestSIGINTCheckpointsAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/train")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "train")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "tiny.yaml")
	writeText(t, cfg, `model: {attention: csca, depth: 18, width_multiplier: 0.25}
data:
  format: synthetic
  root: `+filepath.Join(dir, "synth")+`
  image_size: 32
  resize_size: 36
  val_fraction: 0.2
  synthetic: {classes: 3, per_class: 24, image_size: 40, difficulty: 0.2}
train: {epochs: 3, batch_size: 4, lr: 0.01, deterministic: true}
log: {every_steps: 1}
runtime: {intra_op_threads: 2}
`)
	runDir := filepath.Join(dir, "run")
	cmd := exec.Command(bin, "-config", cfg, "-out", runDir)
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	signalled := false
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if !signalled && strings.Contains(sc.Text(), "epoch 2/3 step 2/") {
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			signalled = true
		}
	}
	err = cmd.Wait()
	if !signalled {
		t.Fatalf("never saw epoch 2 step 2:\n%s", log.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d (%v), want %d:\n%s", code, err, exitInterrupted, log.String())
	}
	if !strings.Contains(log.String(), "Resume with: go run ./cmd/train -resume -out "+runDir) {
		t.Errorf("no resume hint:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(runDir, "summary.json")); err == nil {
		t.Error("an interrupted run wrote summary.json")
	}
	resume := exec.Command(bin, "-resume", "-out", runDir, "-quiet")
	resume.Env = cmd.Env
	done := make(chan struct{})
	var out []byte
	go func() { out, err = resume.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		resume.Process.Kill()
		t.Fatal("resume did not finish in 5 minutes")
	}
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	var sum map[string]any
	b, err := os.ReadFile(filepath.Join(runDir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil || sum["epochs"].(float64) != 3 || sum["num_classes"].(float64) != 3 {
		t.Errorf("summary after resume: %v %s", err, b)
	}
}

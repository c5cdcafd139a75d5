package sweep

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a fake trainer: with fakeEnv=1 in its environment it takes the trainer's
// arguments, records them in RUN/args.txt and behaves as the fakeModes variable says for its run, so that
// the sweep's tests never train anything.
const (
	fakeEnv   = "FINEGRAIN_SWEEP_FAKE_TRAINER"
	fakeModes = "FINEGRAIN_SWEEP_FAKE_MODES" // "variant/seed=mode,..."; modes below, default ok
)

func TestMain(m *testing.M) {
	if os.Getenv(fakeEnv) == "1" {
		os.Exit(fakeTrain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeTrain modes:
//
//	ok        write a checkpoint and summary.json, exit 0
//	fail      print an error and exit 3
//	silent    exit 0 without a summary
//	hang      write a checkpoint and RUN/ready, wait for SIGINT, write RUN/interrupted, exit 130
//	hangonce  hang without -resume, ok with it
//	stubborn  write RUN/ready and ignore SIGINT
//	last      write RUN/ready, wait for SIGINT, then finish as ok (a stop requested in the last epoch)
func fakeTrain(args []string) int {
	var out, attention, seed string
	resume := false
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-out":
			i++
			out = args[i]
		case "-set":
			i++
			k, v, _ := strings.Cut(args[i], "=")
			switch k {
			case "model.attention":
				attention = v
			case "train.seed":
				seed = v
			}
		case "-config":
			i++
			if attention == "" {
				attention = strings.SplitN(filepath.Base(args[i]), "_", 2)[0]
			}
		case "-resume":
			resume = true
		}
	}
	if out == "" {
		fmt.Fprintln(os.Stderr, "fake trainer: no -out")
		return 2
	}
	fmt.Println("fake trainer: loading the configuration")
	// like package train: refuse a directory that is not empty unless resuming, then create it
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 && !resume {
		fmt.Fprintf(os.Stderr, "fake trainer: run directory %s exists (%d entries)\n", out, len(entries))
		return 2
	}
	if err := os.MkdirAll(filepath.Join(out, "checkpoints"), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f, err := os.OpenFile(filepath.Join(out, "args.txt"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(f, strings.Join(args, " "))
	f.Close()
	mode := "ok"
	for _, m := range strings.Split(os.Getenv(fakeModes), ",") {
		if k, v, ok := strings.Cut(m, "="); ok && k == attention+"/"+seed {
			mode = v
		}
	}
	if mode == "hangonce" {
		mode = "hang"
		if resume {
			mode = "ok"
		}
	}
	touch := func(name string) { os.WriteFile(filepath.Join(out, name), nil, 0o644) }
	fmt.Println("fake trainer: epoch 1")
	switch mode {
	case "fail":
		fmt.Fprintln(os.Stderr, "train: boom: out of memory")
		return 3
	case "silent":
		return 0
	case "hang", "stubborn", "last":
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		touch("checkpoints/ckpt-1.index")
		touch("ready")
		<-sig
		for mode == "stubborn" {
			time.Sleep(time.Hour)
		}
		if mode == "last" {
			break
		}
		touch("interrupted")
		return 130
	}
	if mode == "last" {
		touch("interrupted")
	}
	touch("checkpoints/ckpt-1.index")
	var s int
	fmt.Sscan(seed, &s)
	b, _ := json.Marshal(map[string]any{"attention": attention, "seed": s, "test_top1": 0.5 + float64(s)/100})
	if err := os.WriteFile(filepath.Join(out, "summary.json"), b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// fakeRunner is a Runner whose trainer is this test binary in fake mode.
func fakeRunner(t *testing.T, modes string) *Runner {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &Runner{
		Trainer:  self,
		Env:      []string{fakeEnv + "=1", fakeModes + "=" + modes},
		Parallel: 1,
		Grace:    10 * time.Second,
	}
}

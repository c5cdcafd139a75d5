// Command worker runs one task of a TensorFlow cluster for data-parallel training:
//
//	go run ./cmd/worker -cluster host0:port,host1:port -task I
//
// Task I of job "worker" listens on the I-th address of the list and serves TensorFlow's gRPC master
// and worker services until SIGINT or SIGTERM. A trainer reaches the cluster with a session whose target
// is grpc://host0:port and places one tower on each task's devices (/job:worker/task:I/device:CPU:0).
// Every task gets the same -cluster list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/finegrain/finegrain/internal/cli"
	"github.com/finegrain/finegrain/internal/tfserver"
)

func main() {
	cli.QuietLogs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func parseFlags(args []string, stderr io.Writer, deterministic *bool) (tfserver.Def, int) {
	fl := flag.NewFlagSet("worker", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var (
		cluster string
		d       tfserver.Def
	)
	fl.StringVar(&cluster, "cluster", "", "comma-separated `host:port` of every task, task 0 first (the same list on every task)")
	fl.IntVar(&d.Task, "task", 0, "`index` of this task in -cluster")
	fl.IntVar(&d.IntraOpThreads, "threads", 0, "threads inside one TensorFlow op on this task (0: one per CPU)")
	fl.IntVar(&d.InterOpThreads, "inter_threads", 0, "TensorFlow ops run at once on this task (0: TensorFlow's choice)")
	fl.IntVar(&d.CPUDevices, "cpu_devices", 1, "TensorFlow CPU devices this task offers (CPU:0 ... CPU:N-1), one tower each")
	fl.BoolVar(deterministic, "deterministic", false, "deterministic TensorFlow kernels on this task (TF_DETERMINISTIC_OPS=1), for a run with train.deterministic: true")
	fl.Usage = func() {
		fmt.Fprint(stderr, `Usage: worker -cluster host0:port,host1:port -task I [-threads N] [-deterministic]

Serves task I of a TensorFlow cluster (job "worker") until SIGINT or SIGTERM, for data-parallel training.

Every task is started with the same -cluster list; task I listens on the I-th address.

Examples:
  go run ./cmd/worker -cluster 127.0.0.1:2222,127.0.0.1:2223 -task 0 -threads 1
  go run ./cmd/worker -cluster 127.0.0.1:2222,127.0.0.1:2223 -task 1 -threads 1
  go run ./cmd/worker -cluster gpu0.lan:2222,gpu1.lan:2222 -task 1

Flags:
`)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return d, exitOK
		}
		return d, exitUsage
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "worker: unexpected arguments %q\n", fl.Args())
		return d, exitUsage
	}
	addrs, err := tfserver.ParseCluster(cluster)
	if err != nil {
		fmt.Fprintf(stderr, "worker: -cluster: %v\n", err)
		return d, exitUsage
	}
	d.Cluster = addrs
	if err := d.Validate(); err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return d, exitUsage
	}
	return d, -1
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	var deterministic bool
	d, code := parseFlags(args, stderr, &deterministic)
	if code >= 0 {
		return code
	}
	if deterministic {
		// Before the server creates its devices and runs any op: TensorFlow reads this once.
		if err := cli.Deterministic(); err != nil {
			fmt.Fprintf(stderr, "worker: %v\n", err)
			return exitFailed
		}
	}
	srv, err := tfserver.New(d)
	if err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return exitFailed
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "worker: task %d of %d serving %s (devices %s)\n", d.Task, len(d.Cluster), srv.Target(), tfserver.Device(d.Task, "CPU", 0))
	if err := srv.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return exitFailed
	}
	// TensorFlow cannot stop a started server; returning ends the process and the server with it.
	fmt.Fprintf(stderr, "worker: task %d stopped\n", d.Task)
	return exitOK
}

package tfserver

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	"github.com/galeone/tensorflow/tensorflow/go/op"
)

// freePorts returns n loopback addresses whose ports were free a moment ago.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return addrs
}

func startCluster(t *testing.T, n int) []*Server {
	t.Helper()
	servers, err := StartLocal(n, 1)
	if err != nil {
		t.Fatal(err)
	}
	return servers
}

func TestParseCluster(t *testing.T) {
	tests := []struct {
		list    string
		want    []string
		wantErr string
	}{
		{"127.0.0.1:2222", []string{"127.0.0.1:2222"}, ""},
		{"h0:1, h1:2", []string{"h0:1", "h1:2"}, ""},
		{"", nil, "empty list"},
		{"h0", nil, `address "h0": want host:port`},
		{"h0:x", nil, `port "x"`},
		{"h0:70000", nil, `port "70000"`},
		{":2222", nil, "no host"},
		{"h0:1,h0:1", nil, "task 1 repeats the address h0:1 of task 0"},
		{"h0:1,,h1:2", nil, "task 1"},
	}
	for _, tt := range tests {
		got, err := ParseCluster(tt.list)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseCluster(%q) error %v, want it to contain %q", tt.list, err, tt.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ParseCluster(%q) = %v, %v; want %v", tt.list, got, err, tt.want)
		}
	}
}

func TestDefErrors(t *testing.T) {
	cluster := []string{"127.0.0.1:1", "127.0.0.1:2"}
	tests := []struct {
		def  Def
		want string
	}{
		{Def{Cluster: cluster, Task: 2}, "task index 2 out of range: the cluster 127.0.0.1:1,127.0.0.1:2 has tasks 0..1"},
		{Def{Cluster: cluster, Task: -1}, "task index -1 out of range"},
		{Def{}, "no task addresses"},
		{Def{Cluster: []string{"nohost"}}, `address "nohost"`},
		{Def{Cluster: cluster, CPUDevices: -1}, "negative"},
	}
	for _, tt := range tests {
		if _, err := New(tt.def); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error %v, want it to contain %q", tt.def, err, tt.want)
		}
	}
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
	_, err = New(Def{Cluster: []string{addr}})
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("New on a port in use: error %v, want one naming %s as in use", err, addr)
	}
}

func TestCloseUnstarted(t *testing.T) {
	s, err := New(Def{Cluster: freePorts(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

// runOn runs a*b+1 with the multiplication on device mulDev and the addition on addDev through a
// session on target.
func runOn(t *testing.T, target, mulDev, addDev string) float32 {
	t.Helper()
	s := op.NewScope()
	a := op.Const(s.SubScope("a").WithDevice(mulDev), float32(3))
	b := op.Const(s.SubScope("b").WithDevice(mulDev), float32(4))
	m := op.Mul(s.SubScope("mul").WithDevice(mulDev), a, b)
	sum := op.Add(s.SubScope("add").WithDevice(addDev), m, op.Const(s.SubScope("one").WithDevice(addDev), float32(1)))
	g, err := s.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tf.NewSession(g, &tf.SessionOptions{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Run(nil, []tf.Output{sum}, nil)
	if err != nil {
		t.Fatalf("run on %s (%s, %s): %v", target, mulDev, addDev, err)
	}
	return out[0].Value().(float32)
}

func TestOneTask(t *testing.T) {
	srv := startCluster(t, 1)[0]
	if !strings.HasPrefix(srv.Target(), "grpc://") {
		t.Fatalf("target %q is not grpc://", srv.Target())
	}
	dev := Device(0, "CPU", 0)
	if got := runOn(t, srv.Target(), dev, dev); got != 13 {
		t.Fatalf("3*4+1 on %s = %v", dev, got)
	}
	if err := srv.Close(); err == nil {
		t.Fatal("Close of a started server reported success")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Serve(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Serve returned %v, want the context's deadline", err)
	}
}

func TestTwoTasks(t *testing.T) {
	srv := startCluster(t, 2)
	// The session reaches the cluster through task 1 and runs ops on both tasks.
	if got := runOn(t, srv[1].Target(), Device(0, "CPU", 0), Device(1, "CPU", 0)); got != 13 {
		t.Fatalf("3*4+1 over two tasks = %v", got)
	}
	// A task the cluster lacks is refused, so the placements above were honoured, not ignored.
	s := op.NewScope()
	c := op.Const(s.WithDevice(Device(7, "CPU", 0)), float32(1))
	g, err := s.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tf.NewSession(g, &tf.SessionOptions{Target: srv[0].Target()})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if _, err := sess.Run(nil, []tf.Output{c}, nil); err == nil {
		t.Fatal("an op on task 7 of a two-task cluster ran")
	}
}

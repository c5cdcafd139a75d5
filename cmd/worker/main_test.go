package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "empty list"},
		{[]string{"-cluster", "h0:1,h1"}, `task 1: address "h1": want host:port`},
		{[]string{"-cluster", "h0:1,h1:2", "-task", "2"}, "task index 2 out of range"},
		{[]string{"-cluster", "h0:1", "-task", "-1"}, "task index -1 out of range"},
		{[]string{"-cluster", "h0:1", "extra"}, `unexpected arguments ["extra"]`},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		if code := run(context.Background(), tt.args, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("worker %q: exit %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), exitUsage, tt.want)
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
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-cluster", addr}, &stderr); code != exitFailed || !strings.Contains(stderr.String(), addr+"): port") {
		t.Fatalf("worker on a port in use: exit %d, stderr %q", code, stderr.String())
	}
}

// TestServeUntilSignal starts the built command and stops it with SIGTERM.
func TestServeUntilSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "worker")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-cluster", addr, "-task", "0", "-threads", "1")
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("worker did not listen on %s within 30 s: %s", addr, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(stderr.String(), "task 0 stopped") {
			t.Fatalf("worker after SIGTERM: %v, stderr %q", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("worker still running 30 s after SIGTERM")
	}
}

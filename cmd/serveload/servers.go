package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a server under test: a child process listening on a loopback port.
type process struct {
	name string
	url  string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // keep the start of a chatty log, not all of it
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tail is the end of the process's log, for error messages.
func (p *process) tail() string {
	s := strings.TrimSpace(p.logs.String())
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// goAddr is the address cmd/serve logs once it listens.
var goAddr = regexp.MustCompile(`msg="serving REST API" addr=(\S+)`)

// pyAddr is the line the Python baseline prints once it listens.
var pyAddr = regexp.MustCompile(`^listening (\S+)$`)

// start runs the command and waits until a line of its output (stderr for cmd/serve, stdout for the
// baseline) names the address it listens on, and /healthz answers.
func start(ctx context.Context, name string, addrRE *regexp.Regexp, fromStdout bool, argv []string, env []string) (*process, error) {
	p := &process{name: name, logs: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive serveload
	pr, pw := io.Pipe()
	if fromStdout {
		p.cmd.Stdout, p.cmd.Stderr = io.MultiWriter(pw, p.logs), p.logs
	} else {
		p.cmd.Stdout, p.cmd.Stderr = p.logs, io.MultiWriter(pw, p.logs)
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	fail := func(err error) (*process, error) {
		p.stop()
		return nil, fmt.Errorf("%s: %w\n%s", name, err, p.tail())
	}
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-p.done:
		return fail(fmt.Errorf("exited before listening: %v", p.err))
	case <-time.After(5 * time.Minute):
		return fail(fmt.Errorf("not listening after 5 minutes"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	for {
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return fail(fmt.Errorf("exited: %v", p.err))
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the process: SIGTERM, then SIGKILL after 30 s.
func (p *process) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// rss is the process's resident set size in bytes (Linux /proc/PID/status).
func (p *process) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("%s: RSS: %w", p.name, err)
	}
	return parseRSS(b)
}

// parseRSS reads VmRSS from a /proc/PID/status file.
func parseRSS(status []byte) (int64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("RSS: unexpected line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("RSS: %q: %w", line, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("RSS: no VmRSS line")
}

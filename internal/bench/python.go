package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// RunJSON runs c and decodes the last line of its standard output, a JSON object, into v. The error
// of a failed command ends with the last lines of its standard error.
func RunJSON(ctx context.Context, c Command, v any) error {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", c, err, lastLines(stderr.String(), 8))
	}
	out := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("%s: output %q: %w\n%s", c, lastLines(out, 2), err, lastLines(stderr.String(), 8))
	}
	return nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Command is a process to run: the program, its arguments and what it adds to the environment.
type Command struct {
	Name string
	Args []string
	Env  []string
}

// pythonCommand runs a peer script with python, TensorFlow's C++ logs quiet and no GPU, with env
// added; it fails without a Python.
func pythonCommand(python, script string, env []string, args ...string) (Command, error) {
	if python == "" {
		return Command{}, errNoPython
	}
	return Command{Name: python, Args: append([]string{script}, args...),
		Env: append([]string{"TF_CPP_MIN_LOG_LEVEL=2", "CUDA_VISIBLE_DEVICES="}, env...)}, nil
}

func (c Command) String() string {
	s := strings.Join(append([]string{c.Name}, c.Args...), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// RunPair runs a and b at the same time in lockstep (StdioTurns on their side): both set up and warm
// up concurrently; once both have said "ready", their timed rounds alternate, a then b, then b then
// a, rounds times, each process idle while the other measures. Then their standard inputs are closed
// and the JSON objects they print last are decoded into va and vb. If either fails, both are stopped.
func RunPair(ctx context.Context, a, b Command, rounds int, va, vb any) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type proc struct {
		c      Command
		cmd    *exec.Cmd
		in     io.WriteCloser
		out    *bufio.Reader
		stderr bytes.Buffer
		v      any
	}
	procs := []*proc{{c: a, v: va}, {c: b, v: vb}}
	fail := func(p *proc, err error) error {
		cancel()
		for _, q := range procs {
			if q.cmd != nil && q.cmd.Process != nil {
				_ = q.cmd.Wait()
			}
		}
		return fmt.Errorf("%s: %w\n%s", p.c, err, lastLines(p.stderr.String(), 8))
	}
	for _, p := range procs {
		p.cmd = exec.CommandContext(ctx, p.c.Name, p.c.Args...)
		p.cmd.Env = append(os.Environ(), p.c.Env...)
		p.cmd.Stderr = &p.stderr
		var err error
		if p.in, err = p.cmd.StdinPipe(); err != nil {
			return err
		}
		stdout, err := p.cmd.StdoutPipe()
		if err != nil {
			return err
		}
		p.out = bufio.NewReader(stdout)
		if err := p.cmd.Start(); err != nil {
			p.cmd = nil
			return fail(p, err)
		}
	}
	expect := func(p *proc, want string) error {
		line, err := p.out.ReadString('\n')
		if err != nil {
			return fmt.Errorf("waiting for %q: %w", want, err)
		}
		if got := strings.TrimSpace(line); got != want {
			return fmt.Errorf("said %q, want %q", lastLines(got, 1), want)
		}
		return nil
	}
	for _, p := range procs {
		if err := expect(p, "ready"); err != nil {
			return fail(p, err)
		}
	}
	for i := range rounds {
		order := procs
		if i%2 == 1 {
			order = []*proc{procs[1], procs[0]}
		}
		for _, p := range order {
			if _, err := io.WriteString(p.in, "go\n"); err != nil {
				return fail(p, err)
			}
			if err := expect(p, "done"); err != nil {
				return fail(p, err)
			}
		}
	}
	for _, p := range procs {
		p.in.Close()
	}
	for _, p := range procs {
		rest, err := io.ReadAll(p.out)
		if err != nil {
			return fail(p, err)
		}
		if err := p.cmd.Wait(); err != nil {
			return fail(p, err)
		}
		out := strings.TrimSpace(string(rest))
		if i := strings.LastIndexByte(out, '\n'); i >= 0 {
			out = out[i+1:]
		}
		if err := json.Unmarshal([]byte(out), p.v); err != nil {
			return fail(p, fmt.Errorf("output %q: %w", lastLines(out, 1), err))
		}
	}
	return nil
}

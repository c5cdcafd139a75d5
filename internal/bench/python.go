package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// RunJSON runs name with args and env added to this process's environment, and decodes the last
// line of its standard output, a JSON object, into v. The error of a failed command ends with the
// last lines of its standard error.
func RunJSON(ctx context.Context, env []string, v any, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	what := strings.Join(append([]string{name}, args...), " ")
	if len(what) > 300 {
		what = what[:300] + "…"
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", what, err, lastLines(stderr.String(), 8))
	}
	out := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("%s: output %q: %w\n%s", what, lastLines(out, 2), err, lastLines(stderr.String(), 8))
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

// Package cmd_test checks what the commands under cmd/ have in common.
package cmd_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEveryCommandHelp builds every command under cmd/ and runs it with -h, as a user would: each must
// print a usage that starts "Usage: NAME", then a one-line purpose, then examples that run it, and exit
// with status 0 without doing anything else.
func TestEveryCommandHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every command")
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(e.Name(), "main.go")); e.IsDir() && err == nil {
			names = append(names, e.Name())
		}
	}
	if len(names) < 12 {
		t.Fatalf("found the commands %v under cmd/, want at least the 12 the README lists", names)
	}
	bin := t.TempDir()
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./"+n)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	outputs := map[string]string{}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(bin, name), "-h")
			cmd.Dir = t.TempDir() // a command that does more than print its usage has nothing to work on
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			switch {
			case errors.As(err, &exit):
				t.Errorf("%s -h exits with status %d, want 0", name, exit.ExitCode())
			case err != nil:
				t.Fatalf("%s -h: %v\n%s", name, err, out)
			}
			if problems := checkUsage(name, string(out)); len(problems) > 0 {
				t.Errorf("%s -h:\n  %s\noutput:\n%s", name, strings.Join(problems, "\n  "), out)
			}
			outputs[name] = string(out)
		})
	}
	// Evaluating and exporting a run directory pick its checkpoint by one rule, described in one text
	// (checked when both helps ran: -run may select other commands only).
	_, haveEval := outputs["eval"]
	_, haveExport := outputs["export"]
	for _, f := range []string{"-best", "-latest"} {
		if !haveEval || !haveExport {
			break
		}
		e, x := flagHelp(outputs["eval"], f), flagHelp(outputs["export"], f)
		if e == "" || e != x || !strings.Contains(e, "summary.json") {
			t.Errorf("%s: eval's help %q, export's %q: want the same, naming summary.json's checkpoint as the default", f, e, x)
		}
	}
}

// flagHelp is the description that flag.PrintDefaults gives of flag name in out.
func flagHelp(out, name string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "  "+name+" ") || l == "  "+name:
			in = true
		case in && strings.HasPrefix(l, "    \t"):
			b.WriteString(strings.TrimSpace(l))
		case in:
			return b.String()
		}
	}
	return b.String()
}

// checkUsage lists what the -h output of command name lacks.
func checkUsage(name, out string) []string {
	var problems []string
	if strings.Contains(out, "flag: help requested") {
		problems = append(problems, `it reports "flag: help requested" as an error`)
	}
	lines := strings.Split(out, "\n")
	usage := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "Usage: "+name) {
			usage = i
			break
		}
	}
	if usage < 0 {
		return append(problems, `no line starts "Usage: `+name+`"`)
	}
	// The usage line (possibly wrapped) ends at the first blank line; the purpose is the next text.
	i := usage
	for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
		i++
	}
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	// The purpose is a sentence of its own on one line; details may follow it.
	if i >= len(lines) {
		problems = append(problems, "nothing after the usage line")
	} else if p := lines[i]; strings.HasPrefix(p, " ") || strings.HasPrefix(p, "-") || !strings.HasSuffix(p, ".") || len(p) > 120 {
		problems = append(problems, "no one-line purpose (a sentence of at most 120 characters on the line after the usage line), but: "+p)
	}
	examples := 0
	for j := usage; j < len(lines); j++ {
		if lines[j] != "Examples:" {
			continue
		}
		for k := j + 1; k < len(lines) && strings.TrimSpace(lines[k]) != ""; k++ {
			if strings.Contains(lines[k], "go run ./cmd/"+name) {
				examples++
			}
		}
	}
	if examples == 0 {
		problems = append(problems, `no "Examples:" section with a "go run ./cmd/`+name+`" line`)
	}
	return problems
}

func TestCheckUsage(t *testing.T) {
	good := "Usage: x [flags]\n\nDoes a thing.\n\nMore.\n\nExamples:\n  go run ./cmd/x -a\n\nFlags:\n  -a\n"
	tests := []struct {
		out  string
		want string // "" = no problem
	}{
		{good, ""},
		{"I0000 a log line\n" + good, ""},
		{"Usage: x [flags]\n  [more flags]\n\nDoes a thing.\n\nExamples:\n  go run ./cmd/x\n", ""},
		{"Usage of x:\n  -a\n", `no line starts "Usage: x"`},
		{"Usage: x\n\nDoes a thing.\n\nFlags:\n  -a\n", `no "Examples:"`},
		{"Usage: x\n\nDoes a thing.\n\nExamples:\n  go run ./cmd/y\n", `no "Examples:"`},
		{"Usage: x\n\nDoes a thing.\nIn detail, it...\n\nExamples:\n  go run ./cmd/x\n", ""},
		{"Usage: x\n\nDoes a thing\nover two lines.\n\nExamples:\n  go run ./cmd/x\n", "no one-line purpose"},
		{"Usage: x\n\nFlags:\n  -a\n\nExamples:\n  go run ./cmd/x\n", "no one-line purpose"},
		{"Usage: x\n\n" + strings.Repeat("word ", 30) + "end.\n\nExamples:\n  go run ./cmd/x\n", "no one-line purpose"},
		{"Usage: x\n", "nothing after the usage line"},
		{good + "x: flag: help requested\n", "help requested"},
	}
	for _, tc := range tests {
		got := strings.Join(checkUsage("x", tc.out), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("checkUsage(%q) = %q, want %q", tc.out, got, tc.want)
		}
	}
}

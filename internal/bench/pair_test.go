package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// peerScript is a lockstep peer in sh: ready, then one line in the shared log per round, then its
// round count as JSON.
const peerScript = `name=$1; log=$2
echo ready
n=0
while read -r cmd; do
	[ "$cmd" = go ] || { echo "unexpected $cmd" >&2; exit 3; }
	echo "$name" >>"$log"
	n=$((n+1))
	echo done
done
echo "{\"rounds\": $n, \"name\": \"$name\"}"
`

func TestRunPair(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "peer.sh")
	if err := os.WriteFile(script, []byte(peerScript), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "log")
	peer := func(name string) Command { return Command{Name: sh, Args: []string{script, name, log}} }
	type out struct {
		Rounds int    `json:"rounds"`
		Name   string `json:"name"`
	}
	var a, b out
	if err := RunPair(context.Background(), peer("a"), peer("b"), 4, &a, &b); err != nil {
		t.Fatal(err)
	}
	if a.Rounds != 4 || b.Rounds != 4 || a.Name != "a" || b.Name != "b" {
		t.Errorf("results %+v %+v, want 4 rounds each", a, b)
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a b b a a b b a"; strings.Join(strings.Fields(string(got)), " ") != want {
		t.Errorf("rounds ran in the order %q, want %q", strings.Fields(string(got)), want)
	}

	broken := Command{Name: sh, Args: []string{"-c", "echo ready; read x; echo boom >&2; exit 1"}}
	err = RunPair(context.Background(), peer("a"), broken, 2, &a, &b)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("RunPair with a failing peer: %v, want its stderr in the error", err)
	}
	var v out
	if err := RunJSON(context.Background(), Command{Name: sh, Args: []string{"-c", `echo noise; echo '{"rounds": 7}'`}}, &v); err != nil || v.Rounds != 7 {
		t.Errorf("RunJSON: %+v, %v; want the last line decoded", v, err)
	}
	if err := RunJSON(context.Background(), Command{Name: sh, Args: []string{"-c", "echo oops >&2; exit 2"}}, &v); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("RunJSON of a failing command: %v, want its stderr", err)
	}
}

func TestStdioTurns(t *testing.T) {
	var out strings.Builder
	turns := StdioTurns(strings.NewReader("go\ngo\nstop\n"), &out)
	n := 0
	count := func() error { n++; return nil }
	for i := range 2 {
		if err := round(turns, count); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	if err := round(turns, count); err == nil || !strings.Contains(err.Error(), "stop") {
		t.Errorf("round after %q: %v, want an error naming it", "stop", err)
	}
	if err := round(turns, count); err == nil {
		t.Error("round after the end of the input succeeded")
	}
	if n != 2 || out.String() != "ready\ndone\ndone\n" {
		t.Errorf("ran %d rounds and wrote %q, want 2 and ready, done, done", n, out.String())
	}
	if err := round(nil, count); err != nil || n != 3 {
		t.Errorf("a free round: %v, %d runs", err, n)
	}
}

package reliability

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/finegrain/finegrain/train"
)

// snapshot makes dst the run directory of the reference run as it was after its first epoch: the
// resolved configuration, the first epoch's checkpoint and a checkpoint.json naming it.
func snapshot(t *testing.T, ref *runRecord, dst string) string {
	t.Helper()
	name := fmt.Sprintf("ckpt-%09d", tinyStepsPerEpoch)
	src := filepath.Join(ref.dir, "checkpoints", name)
	copyTree(t, src, filepath.Join(dst, "checkpoints", name))
	copyTree(t, filepath.Join(ref.dir, "config.yaml"), filepath.Join(dst, "config.yaml"))
	st, err := train.ReadState(src)
	if err != nil {
		t.Fatal(err)
	}
	ptr := train.Pointer{Latest: name, Checkpoints: []string{name}}
	if st.BestEpoch == 1 {
		ptr.Best = name
	}
	b, err := json.Marshal(ptr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "checkpoints", "checkpoint.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// checkDiskError requires the error of a failed checkpoint write to name the cause and the checkpoint
// to resume from, without TensorFlow's out-of-memory hint (it reports a full disk as an exhausted
// resource).
func checkDiskError(t *testing.T, out string, cause ...string) {
	t.Helper()
	found := false
	for _, c := range cause {
		found = found || strings.Contains(out, c)
	}
	if !found {
		t.Errorf("output does not give the cause (%q):\n%s", cause, out)
	}
	for _, want := range []string{"ckpt-000000014", fmt.Sprintf("ckpt-%09d", tinyStepsPerEpoch)} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not name %s (the checkpoint not written, and the last good one to resume from):\n%s", want, out)
		}
	}
	if strings.Contains(out, "OOM") {
		t.Errorf("output carries TensorFlow's out-of-memory hint, which misleads about a full disk:\n%s", out)
	}
}

// checkLastGood requires the run directory to still resume from the first epoch's checkpoint:
// checkpoint.json names it, every checkpoint on disk restores, and no temporary files are left.
func checkLastGood(t *testing.T, dir string) {
	t.Helper()
	want := fmt.Sprintf("ckpt-%09d", tinyStepsPerEpoch)
	ptr, err := train.ReadPointer(filepath.Join(dir, "checkpoints"))
	if err != nil || ptr.Latest != want {
		t.Errorf("checkpoint.json: %+v, %v; want the last good checkpoint %s", ptr, err, want)
	}
	if n, _ := checkCheckpoints(t, dir); n != 1 {
		t.Errorf("%d checkpoints on disk, want only the last good one", n)
	}
	if l := leftovers(t, dir); len(l) > 0 {
		t.Errorf("the failed write left %v", l)
	}
}

// TestFullDiskFileSizeLimit resumes a run under a 1 MiB file-size limit (RLIMIT_FSIZE, with SIGXFSZ
// ignored, as ulimit -f sets it), too small for the checkpoint of the next epoch: the trainer must
// stop with an error naming the checkpoint and the cause, leave the last good checkpoint as it was,
// and resume from it to the same result as an uninterrupted run once the limit is gone.
func TestFullDiskFileSizeLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	ref := reference(t, 2)
	bin := command(t, "train")
	dir := snapshot(t, ref, filepath.Join(t.TempDir(), "run"))
	// bash's ulimit -f counts 1024-byte blocks.
	limited := []string{"-c", `ulimit -f 1024 && trap "" XFSZ && exec "$0" "$@"`, bin, "-resume", "-out", dir}
	code, out := runCmd(t, "bash", limited, childEnv())
	noPanic(t, out)
	t.Logf("exit status %d; output ends:\n%s", code, tail(out, 3))
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	checkDiskError(t, out, "File too large", "file too large")
	checkLastGood(t, dir)

	code, out = runCmd(t, bin, []string{"-resume", "-out", dir}, childEnv())
	if code != 0 {
		t.Fatalf("resume after the limit was lifted: exit status %d\n%s", code, out)
	}
	compareOutcomes(t, readOutcome(t, ref.dir), readOutcome(t, dir))
}

// TestFullDiskTmpfs resumes a run on a tmpfs with 1 MiB free, too little for the next checkpoint:
// a "no space left on device" error and the last good checkpoint intact. It needs root and
// permission to mount (CI has both); elsewhere it skips.
func TestFullDiskTmpfs(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	ref := reference(t, 2)
	bin := command(t, "train")
	snap := snapshot(t, ref, filepath.Join(t.TempDir(), "snap"))
	used := int64(0)
	filepath.Walk(snap, func(_ string, fi os.FileInfo, err error) error {
		if err == nil {
			used += (fi.Size() + 4095) / 4096 * 4096
		}
		return nil
	})
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	size := used + 1<<20
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	dir := filepath.Join(mnt, "run")
	copyTree(t, snap, dir)
	code, out := runCmd(t, bin, []string{"-resume", "-out", dir}, childEnv())
	noPanic(t, out)
	t.Logf("tmpfs of %d bytes; exit status %d; output ends:\n%s", size, code, tail(out, 3))
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	checkDiskError(t, out, "no space left on device", "No space left on device")
	checkLastGood(t, dir)
}

// TestReadOnlyOutput starts a run in a directory whose parent may not be written, and resumes a run
// whose directory may not be written: both fail at once (the resume before it builds anything) with an
// error naming the path and the permission, and the existing checkpoint is untouched. As root, the trainer runs as nobody (root
// may write anywhere).
func TestReadOnlyOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the training graph")
	}
	ref := reference(t, 2)
	bin := command(t, "train")
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Skipf("running as root without a nobody user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	base := t.TempDir()
	ro := filepath.Join(base, "ro")
	dir := snapshot(t, ref, filepath.Join(ro, "run"))
	// Everything the trainer reads must be readable by nobody.
	for _, d := range []string{filepath.Dir(base), base, shared.dir, filepath.Dir(bin)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	setMode := func(mode os.FileMode) {
		filepath.Walk(ro, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if fi.IsDir() {
				return os.Chmod(p, mode|0o111)
			}
			return os.Chmod(p, mode&^0o111)
		})
	}
	setMode(0o555)
	t.Cleanup(func() { setMode(0o755) })
	cfg := writeConfig(t, base, "tiny.yaml", tinyConfig(dataset(t), 2))
	os.Chmod(cfg, 0o644)

	run := func(args ...string) (int, string) {
		p := exec.Command(bin, args...)
		p.Env = childEnv()
		if cred != nil {
			p.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		out, err := p.CombinedOutput()
		return exitCode(err), string(out)
	}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"new run", []string{"-config", cfg, "-out", filepath.Join(ro, "new")}, []string{filepath.Join(ro, "new"), "permission denied"}},
		{"resume", []string{"-resume", "-out", dir}, []string{"-resume: " + dir + " is not writable", "permission denied"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := run(c.args...)
			noPanic(t, out)
			t.Logf("exit status %d; output ends:\n%s", code, tail(out, 2))
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	setMode(0o755)
	checkLastGood(t, dir)
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

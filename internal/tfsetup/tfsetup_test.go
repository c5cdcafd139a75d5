package tfsetup

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestRunpath(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Fatalf("building test libraries needs cc: %v", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "x.c")
	if err := os.WriteFile(src, []byte("int x(void) { return 1; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		flags []string
		want  []string
	}{
		{"runpath", []string{"-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../nvidia/a/lib:/opt/b:$ORIGIN/../nvidia/a/lib"},
			[]string{filepath.Join(filepath.Dir(dir), "nvidia/a/lib"), "/opt/b"}},
		{"rpath", []string{"-Wl,--disable-new-dtags", "-Wl,-rpath,${ORIGIN}:/opt/c"}, []string{dir, "/opt/c"}},
		{"none", nil, nil},
	}
	for _, tc := range tests {
		lib := filepath.Join(dir, "lib"+tc.name+".so")
		args := append([]string{"-shared", "-fPIC", "-o", lib, src}, tc.flags...)
		if out, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
			t.Fatalf("cc %q: %v\n%s", args, err, out)
		}
		got, err := Runpath(lib)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: Runpath = %q, want %q", tc.name, got, tc.want)
		}
	}
	if _, err := Runpath(src); err == nil {
		t.Errorf("Runpath of a C source file: no error")
	}
}

func TestFind(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, p := range []string{filepath.Join(a, "libx.so.1"), filepath.Join(b, "libx.so.1"), filepath.Join(b, "liby.so.1")} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(a, "libdir.so"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, want string }{
		{"libx.so.1", filepath.Join(a, "libx.so.1")}, // the first directory wins
		{"liby.so.1", filepath.Join(b, "liby.so.1")},
		{"libdir.so", ""}, // a directory is not a library
		{"libz.so.1", ""},
	}
	for _, tc := range tests {
		if got := Find(tc.name, []string{filepath.Join(a, "missing"), a, b}); got != tc.want {
			t.Errorf("Find(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

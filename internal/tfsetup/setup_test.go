package tfsetup

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The fake TensorFlow has a version of its own, so that a real install found by accident (the
// compiler's default search path includes /usr/local) can never pass for it.
const fakeVersion = "9.8.0"

// fakeCUDA are the fake nvidia wheels: package, version, the directory inside nvidia/ and the files
// each holds (a trailing * marks an executable).
var fakeCUDA = []struct {
	pkg, version, dir string
	files             []string
}{
	{"nvidia-cuda-runtime-cu12", "12.5.82", "cuda_runtime", []string{"lib/libcudart.so.12"}},
	{"nvidia-cudnn-cu12", "9.3.0.75", "cudnn", []string{"lib/libcudnn.so.9", "lib/libcudnn_ops.so.9"}},
	{"nvidia-cuda-nvcc-cu12", "12.5.82", "cuda_nvcc", []string{"bin/ptxas*", "nvvm/libdevice/libdevice.10.bc"}},
}

// fakeAndCUDA is the and-cuda extra of the fake tensorflow wheel's METADATA.
const fakeAndCUDA = `Requires-Dist: nvidia-cuda-runtime-cu12<13.0,>=12.5.82; extra == "and-cuda"
Requires-Dist: nvidia-cudnn-cu12<10.0,>=9.3.0.75; extra == "and-cuda"
Requires-Dist: nvidia-cuda-nvcc-cu12<13.0,>=12.5.82; extra == "and-cuda"
`

// fixture is a directory of fake wheels and the pins that match them.
type fixture struct {
	wheels string            // the wheel directory (TF_WHEEL_DIR)
	sha    map[string]string // wheel package -> sha256
}

func sh(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}

// writeWheel writes a zip of files (name -> content; a name ending in * is stored executable) and
// returns its sha256.
func writeWheel(t *testing.T, path string, files map[string][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		h := &zip.FileHeader{Name: strings.TrimSuffix(n, "*"), Method: zip.Deflate}
		h.SetMode(0o644)
		if strings.HasSuffix(n, "*") {
			h.SetMode(0o755)
		}
		w, err := z.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

// newFixture compiles a fake libtensorflow_cc.so.2 and libtensorflow_framework.so.2 exporting the
// symbols setup checks for (the gpu one with a RUNPATH into ../nvidia/*/lib, as the real CUDA build's),
// and packs them with the C API headers into fake tensorflow and tensorflow-cpu wheels, next to fake
// nvidia wheels holding dummy libraries.
func newFixture(t *testing.T) fixture {
	t.Helper()
	for _, tool := range []string{"cc", "python3", "nm", "readelf", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("setup-tensorflow.sh needs %s: %v", tool, err)
		}
	}
	build := t.TempDir()
	src := map[string]string{
		"fw.c": "void *TF_NewStatus(void) { return 0; }\n",
		"cc.c": "void *TF_NewStatus(void);\n" +
			"const char *TF_Version(void) { TF_NewStatus(); return \"" + fakeVersion + "\"; }\n" +
			"void TF_AddGradientsWithPrefix(void) {}\nvoid TF_LoadSessionFromSavedModel(void) {}\nvoid TFE_NewContext(void) {}\n",
		"dummy.c": "int dummy(void) { return 1; }\n",
	}
	for n, s := range src {
		if err := os.WriteFile(filepath.Join(build, n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := fixture{wheels: t.TempDir(), sha: map[string]string{}}
	headers := map[string][]byte{
		"tensorflow/include/tensorflow/c/c_api.h":       []byte("const char *TF_Version(void);\n"),
		"tensorflow/include/tensorflow/c/eager/c_api.h": []byte("/* fake */\n"),
		"tensorflow/include/tsl/platform/ctstring.h":    []byte("/* fake */\n"),
		"tensorflow/python/unwanted.py":                 []byte("# not part of the C API\n"),
	}
	for _, v := range []struct{ pkg, runpath, meta string }{
		{"tensorflow-cpu", "", ""},
		{"tensorflow", "$ORIGIN/../../nvidia/cuda_runtime/lib:$ORIGIN/../nvidia/cuda_runtime/lib:$ORIGIN/../nvidia/cudnn/lib", fakeAndCUDA},
	} {
		dir := filepath.Join(build, v.pkg)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		fw := []string{"-shared", "-fPIC", "-o", filepath.Join(dir, "libtensorflow_framework.so.2"), "-Wl,-soname,libtensorflow_framework.so.2", "fw.c"}
		if v.runpath != "" {
			fw = append(fw, "-Wl,--enable-new-dtags", "-Wl,-rpath,"+v.runpath)
		}
		sh(t, build, "cc", fw...)
		sh(t, build, "cc", "-shared", "-fPIC", "-o", filepath.Join(dir, "libtensorflow_cc.so.2"), "-Wl,-soname,libtensorflow_cc.so.2", "cc.c", "-L"+dir, "-l:libtensorflow_framework.so.2")
		files := map[string][]byte{}
		for n, b := range headers {
			files[n] = b
		}
		for _, l := range []string{"libtensorflow_cc.so.2", "libtensorflow_framework.so.2"} {
			b, err := os.ReadFile(filepath.Join(dir, l))
			if err != nil {
				t.Fatal(err)
			}
			files["tensorflow/"+l] = b
		}
		files["tensorflow-"+fakeVersion+".dist-info/METADATA"] = []byte("Metadata-Version: 2.1\nName: " + v.pkg + "\nVersion: " + fakeVersion +
			"\nRequires-Dist: numpy>=1.26.0\nProvides-Extra: and-cuda\n" + v.meta)
		name := fmt.Sprintf("%s-%s-cp311-cp311-manylinux_2_27_x86_64.whl", strings.ReplaceAll(v.pkg, "-", "_"), fakeVersion)
		f.sha[v.pkg] = writeWheel(t, filepath.Join(f.wheels, name), files)
	}
	sh(t, build, "cc", "-shared", "-fPIC", "-o", "dummy.so", "dummy.c")
	dummy, err := os.ReadFile(filepath.Join(build, "dummy.so"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range fakeCUDA {
		files := map[string][]byte{
			"nvidia/__init__.py":                            nil,
			"nvidia/" + w.dir + "/__init__.py":              nil,
			"nvidia/" + w.dir + "/include/header.h":         []byte("/* left out */\n"),
			"nvidia/" + w.dir + "/lib/__init__.py":          nil,
			w.pkg + "-" + w.version + ".dist-info/METADATA": []byte("Name: " + w.pkg + "\n"),
		}
		for _, fl := range w.files {
			files["nvidia/"+w.dir+"/"+fl] = dummy
		}
		name := fmt.Sprintf("%s-%s-py3-none-manylinux2014_x86_64.whl", strings.ReplaceAll(w.pkg, "-", "_"), w.version)
		f.sha[w.pkg] = writeWheel(t, filepath.Join(f.wheels, name), files)
	}
	return f
}

// pins writes tensorflow.env and tensorflow-cuda.env for the fixture into a new directory, edit
// changing the CUDA wheel list (package, version, sha256 a line) first.
func (f fixture) pins(t *testing.T, edit func(lines []string) []string) string {
	t.Helper()
	dir := t.TempDir()
	env := fmt.Sprintf("TF_VERSION=%s\nTF_WHEEL_PYTHON=3.11\nTF_WHEEL_PLATFORM=manylinux_2_27_x86_64\n"+
		"TF_CPU_PACKAGE=tensorflow-cpu\nTF_CPU_SHA256=%s\nTF_GPU_PACKAGE=tensorflow\nTF_GPU_SHA256=%s\n",
		fakeVersion, f.sha["tensorflow-cpu"], f.sha["tensorflow"])
	var lines []string
	for _, w := range fakeCUDA {
		lines = append(lines, w.pkg+" "+w.version+" "+f.sha[w.pkg])
	}
	if edit != nil {
		lines = edit(lines)
	}
	cuda := "TF_CUDA_WHEELS=\"\n" + strings.Join(lines, "\n") + "\n\"\n" +
		"TF_CUDA_WHEEL_PLATFORMS=\"manylinux2014_x86_64\"\nTF_CUDA_LIBS=\"libcudart.so.12 libcudnn.so.9\"\n"
	for n, s := range map[string]string{"tensorflow.env": env, "tensorflow-cuda.env": cuda} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// run runs scripts/setup-tensorflow.sh offline with HOME and TMPDIR of its own, and checks that it
// wrote nothing outside prefix: HOME and TMPDIR are left empty and the wheel directory unchanged.
func (f fixture) run(t *testing.T, variant, pinDir, prefix string) (stdout, stderr string, err error) {
	t.Helper()
	script, aerr := filepath.Abs("../../scripts/setup-tensorflow.sh")
	if aerr != nil {
		t.Fatal(aerr)
	}
	home, tmp := t.TempDir(), t.TempDir()
	before := tree(t, f.wheels)
	cmd := exec.Command("bash", script)
	cmd.Dir = t.TempDir()
	env := []string{"HOME=" + home, "TMPDIR=" + tmp, "PATH=" + os.Getenv("PATH"), "PREFIX=" + prefix,
		"TF_VARIANT=" + variant, "TF_WHEEL_DIR=" + f.wheels, "TF_PIN_DIR=" + pinDir}
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	for _, d := range []string{home, tmp, cmd.Dir} {
		if left := tree(t, d); len(left) > 0 {
			t.Errorf("setup (%s) left files outside PREFIX in %s: %v", variant, d, left)
		}
	}
	if after := tree(t, f.wheels); !slices.Equal(before, after) {
		t.Errorf("setup (%s) changed the wheel directory: %v -> %v", variant, before, after)
	}
	return out.String(), errb.String(), err
}

// tree lists every file under dir with its mode and sha256, sorted; nothing for a missing dir.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var list []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			list = append(list, rel+" -> "+target)
		case d.IsDir():
			// listed through its files
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			list = append(list, fmt.Sprintf("%s %v %x", rel, fi.Mode().Perm(), sum[:4]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func names(entries []string) []string {
	var out []string
	for _, e := range entries {
		out = append(out, strings.Fields(e)[0])
	}
	return out
}

func TestSetupLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scripts/setup-tensorflow.sh several times")
	}
	f := newFixture(t)
	pins := f.pins(t, nil)
	common := []string{
		"include/tensorflow/c/c_api.h", "include/tensorflow/c/eager/c_api.h", "include/tsl/platform/ctstring.h",
		"lib/libtensorflow.finegrain-version", "lib/libtensorflow.so", "lib/libtensorflow.so.2",
		"lib/libtensorflow_cc.so.2", "lib/libtensorflow_framework.so", "lib/libtensorflow_framework.so.2",
	}
	cuda := []string{
		"nvidia/cuda_nvcc/bin/ptxas", "nvidia/cuda_nvcc/nvvm/libdevice/libdevice.10.bc",
		"nvidia/cuda_runtime/lib/libcudart.so.12", "nvidia/cudnn/lib/libcudnn.so.9",
		"nvidia/cudnn/lib/libcudnn_ops.so.9", "nvidia/finegrain-cuda-wheels",
	}
	tests := []struct {
		variant string
		want    []string
	}{
		{"cpu", common},
		{"gpu", append(slices.Clone(common), cuda...)},
	}
	for _, tc := range tests {
		t.Run(tc.variant, func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "prefix")
			stdout, stderr, err := f.run(t, tc.variant, pins, prefix)
			if err != nil {
				t.Fatalf("setup: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
			}
			if !strings.Contains(stdout, "libtensorflow "+fakeVersion+" ("+tc.variant+") ready under "+prefix) {
				t.Errorf("setup did not report the install:\n%s", stdout)
			}
			got := tree(t, prefix)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if n := names(got); !slices.Equal(n, want) {
				t.Fatalf("installed files:\n%s\nwant:\n%s", strings.Join(n, "\n"), strings.Join(want, "\n"))
			}
			version, err := os.ReadFile(filepath.Join(prefix, "lib/libtensorflow.finegrain-version"))
			if err != nil || string(version) != fakeVersion+" "+tc.variant+"\n" {
				t.Errorf("version file %q (%v), want %q", version, err, fakeVersion+" "+tc.variant+"\n")
			}
			script, err := os.ReadFile(filepath.Join(prefix, "lib/libtensorflow.so"))
			if err != nil || !strings.Contains(string(script), "INPUT("+prefix+"/lib/libtensorflow_cc.so.2 ") {
				t.Errorf("libtensorflow.so = %q (%v), want an ld script naming %s/lib", script, err, prefix)
			}
			dirs, err := SearchPath(filepath.Join(prefix, "lib/libtensorflow_framework.so.2"), filepath.Join(prefix, "lib/libtensorflow_cc.so.2"))
			if err != nil {
				t.Fatal(err)
			}
			for lib, dir := range map[string]string{"libcudart.so.12": "cuda_runtime", "libcudnn.so.9": "cudnn"} {
				got, want := Find(lib, dirs), ""
				if tc.variant == "gpu" {
					want = filepath.Join(prefix, "nvidia", dir, "lib", lib)
				}
				if got != want {
					t.Errorf("%s through the installed RUNPATH %v: %q, want %q", lib, dirs, got, want)
				}
			}
			if tc.variant != "gpu" {
				return
			}
			if fi, err := os.Stat(filepath.Join(prefix, "nvidia/cuda_nvcc/bin/ptxas")); err != nil || fi.Mode().Perm()&0o111 == 0 {
				t.Errorf("ptxas is not executable: %v %v", fi.Mode(), err)
			}
			manifest, err := os.ReadFile(filepath.Join(prefix, "nvidia/finegrain-cuda-wheels"))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range fakeCUDA {
				if line := w.pkg + " " + w.version + " " + f.sha[w.pkg]; !strings.Contains(string(manifest), line+"\n") {
					t.Errorf("the CUDA manifest lacks %q:\n%s", line, manifest)
				}
			}
			// A second run keeps the install; a cpu run afterwards keeps it too (any build will do for cpu).
			for _, variant := range []string{"gpu", "cpu"} {
				before := tree(t, prefix)
				stdout, stderr, err := f.run(t, variant, pins, prefix)
				if err != nil || !strings.Contains(stdout, "already installed") {
					t.Errorf("%s rerun: %v\n%s%s", variant, err, stdout, stderr)
				}
				if after := tree(t, prefix); !slices.Equal(before, after) {
					t.Errorf("%s rerun changed the install", variant)
				}
			}
		})
	}
}

// TestSetupGPUOverCPU: a gpu setup into a PREFIX holding the cpu build installs the gpu build rather
// than keeping the cpu one, whose version matches.
func TestSetupGPUOverCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scripts/setup-tensorflow.sh several times")
	}
	f := newFixture(t)
	pins := f.pins(t, nil)
	prefix := filepath.Join(t.TempDir(), "prefix")
	for _, variant := range []string{"cpu", "gpu"} {
		if stdout, stderr, err := f.run(t, variant, pins, prefix); err != nil {
			t.Fatalf("%s: %v\n%s%s", variant, err, stdout, stderr)
		}
	}
	if v, err := os.ReadFile(filepath.Join(prefix, "lib/libtensorflow.finegrain-version")); err != nil || string(v) != fakeVersion+" gpu\n" {
		t.Errorf("version file %q (%v) after cpu then gpu", v, err)
	}
	if _, err := os.Stat(filepath.Join(prefix, "nvidia/cuda_runtime/lib/libcudart.so.12")); err != nil {
		t.Errorf("no CUDA runtime after cpu then gpu: %v", err)
	}
}

func TestSetupRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scripts/setup-tensorflow.sh several times")
	}
	f := newFixture(t)
	bad := strings.Repeat("0", 64)
	tests := []struct {
		name    string
		variant string
		edit    func([]string) []string
		tfSHA   bool // break the tensorflow wheel's own pin
		want    *regexp.Regexp
	}{
		{name: "tensorflow sha256", variant: "gpu", tfSHA: true,
			want: regexp.MustCompile(`checksum mismatch for .*/tensorflow-9\.8\.0-cp311-cp311-manylinux_2_27_x86_64\.whl: got [0-9a-f]{64}, want 0{64}`)},
		{name: "nvidia sha256", variant: "gpu", edit: func(l []string) []string {
			l[1] = "nvidia-cudnn-cu12 9.3.0.75 " + bad
			return l
		}, want: regexp.MustCompile(`checksum mismatch for .*/nvidia_cudnn_cu12-9\.3\.0\.75-py3-none-manylinux2014_x86_64\.whl: got [0-9a-f]{64}, want 0{64}`)},
		{name: "pin outside the and-cuda range", variant: "gpu", edit: func(l []string) []string {
			l[1] = "nvidia-cudnn-cu12 10.1 " + f.sha["nvidia-cudnn-cu12"]
			return l
		}, want: regexp.MustCompile(`pinned nvidia-cudnn-cu12 10\.1 is outside the and-cuda requirement <10\.0,>=9\.3\.0\.75`)},
		{name: "and-cuda requirement not pinned", variant: "gpu", edit: func(l []string) []string {
			return l[:2]
		}, want: regexp.MustCompile(`the and-cuda extra requires nvidia-cuda-nvcc-cu12 <13\.0,>=12\.5\.82, which is not pinned`)},
		{name: "wheel missing offline", variant: "gpu", edit: func(l []string) []string {
			return append(l[:0:0], strings.Replace(l[0], "12.5.82", "12.5.83", 1), l[1], l[2])
		}, want: regexp.MustCompile(`no nvidia-cuda-runtime-cu12 12\.5\.83 wheel .* in TF_WHEEL_DIR=`)},
		{name: "unknown variant", variant: "tpu", want: regexp.MustCompile(`TF_VARIANT must be cpu or gpu, not 'tpu'`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pins := f.pins(t, tc.edit)
			if tc.tfSHA {
				p := filepath.Join(pins, "tensorflow.env")
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				b = bytes.Replace(b, []byte("TF_GPU_SHA256="+f.sha["tensorflow"]), []byte("TF_GPU_SHA256="+bad), 1)
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			prefix := filepath.Join(t.TempDir(), "prefix")
			stdout, stderr, err := f.run(t, tc.variant, pins, prefix)
			if err == nil {
				t.Fatalf("setup succeeded:\n%s", stdout)
			}
			if !tc.want.MatchString(stderr) {
				t.Errorf("stderr does not match %q:\n%s", tc.want, stderr)
			}
			if _, err := os.Stat(prefix); !os.IsNotExist(err) {
				t.Errorf("a refused setup wrote under PREFIX: %v", tree(t, prefix))
			}
		})
	}
}

// TestCUDALibrariesMatchPins keeps CUDALibraries and the TF_CUDA_LIBS that setup checks the same list.
func TestCUDALibrariesMatchPins(t *testing.T) {
	b, err := os.ReadFile("../../scripts/tensorflow-cuda.env")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TF_CUDA_LIBS="([^"]*)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("scripts/tensorflow-cuda.env has no TF_CUDA_LIBS")
	}
	if got, want := strings.Fields(string(m[1])), CUDALibraries(); !slices.Equal(got, want) {
		t.Errorf("TF_CUDA_LIBS = %v, CUDALibraries() = %v", got, want)
	}
}

package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finegrain/finegrain/internal/pyref"
)

// server serves one file with Range support; it can cut the first n responses after cut bytes, ignore
// Range, and declare a digest.
type server struct {
	content  []byte
	cutFirst int  // responses to cut
	cut      int  // bytes written before a cut
	noRange  bool // answer Range requests with the whole file
	declared string
	mu       sync.Mutex
	ranges   []string
	served   int
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	cut := s.cutFirst > 0
	if cut {
		s.cutFirst--
	}
	s.mu.Unlock()
	if s.declared != "" {
		w.Header().Set("X-Linked-Etag", `"`+s.declared+`"`)
	}
	if cut {
		w.Header().Set("Content-Length", strconv.Itoa(len(s.content)))
		w.WriteHeader(http.StatusOK)
		w.Write(s.content[:s.cut])
		s.count(s.cut)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drops the connection mid-body
	}
	if s.noRange {
		r.Header.Del("Range")
	}
	cw := &countingWriter{ResponseWriter: w, s: s}
	http.ServeContent(cw, r, "w.pth", time.Unix(0, 0), bytes.NewReader(s.content))
}

func (s *server) count(n int) {
	s.mu.Lock()
	s.served += n
	s.mu.Unlock()
}

type countingWriter struct {
	http.ResponseWriter
	s *server
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.s.count(n)
	return n, err
}

// fixture is a 300 kB seeded file, its digest and an entry for it at the server's URL.
func fixture(t *testing.T, s *server) (Entry, string, string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	s.content = make([]byte, 300_000)
	for i := range s.content {
		s.content[i] = byte(rng.Uint32())
	}
	sum := sha256.Sum256(s.content)
	digest := hex.EncodeToString(sum[:])
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	e := Entry{Name: "test/w", Source: "test", URL: ts.URL + "/w-" + digest[:8] + ".pth", File: "w-" + digest[:8] + ".pth", SHA256Prefix: digest[:8]}
	return e, digest, t.TempDir()
}

// TestGet downloads, checks and renames into the cache; a second Get finds and re-checks the file
// without a request; the digest lands in a .sha256 file; a progress bar is drawn.
func TestGet(t *testing.T) {
	s := &server{}
	e, digest, dir := fixture(t, s)
	var progress bytes.Buffer
	res, err := Get(context.Background(), e, GetOptions{Dir: dir, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != filepath.Join(dir, "test", e.File) || res.SHA256 != digest || res.Cached || res.Size != 300_000 || !strings.Contains(res.Check, "prefix "+digest[:8]) {
		t.Errorf("result %+v", res)
	}
	if b, err := os.ReadFile(res.Path); err != nil || !bytes.Equal(b, s.content) {
		t.Errorf("cached file differs from the served one (%v)", err)
	}
	if b, _ := os.ReadFile(res.Path + ".sha256"); !strings.HasPrefix(string(b), digest+"  ") {
		t.Errorf(".sha256 file %q", b)
	}
	if _, err := os.Stat(res.Path + ".part"); err == nil {
		t.Error("the .part file is left behind")
	}
	if !strings.Contains(progress.String(), "test/w") {
		t.Errorf("no progress bar: %q", progress.String())
	}
	again, err := Get(context.Background(), e, GetOptions{Dir: dir})
	if err != nil || !again.Cached || len(s.ranges) != 1 {
		t.Errorf("second Get: %+v, %v after %d requests; want the cached file and no request", again, err, len(s.ranges))
	}
}

// TestGetWrongHash: a file whose digest does not match is removed, never renamed into the cache, and
// the error says so; a full recorded digest is checked the same way.
func TestGetWrongHash(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Entry)
		msg  string
	}{
		{"prefix", func(e *Entry) { e.SHA256Prefix = "deadbeef" }, "does not start with deadbeef"},
		{"full", func(e *Entry) { e.SHA256Prefix, e.SHA256 = "", strings.Repeat("ab", 32) }, "want " + strings.Repeat("ab", 32)},
		{"declared", func(e *Entry) { e.SHA256Prefix = "" }, "the server declared " + strings.Repeat("cd", 32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &server{declared: strings.Repeat("cd", 32)}
			e, _, dir := fixture(t, s)
			tc.edit(&e)
			_, err := Get(context.Background(), e, GetOptions{Dir: dir})
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "removed") {
				t.Errorf("error %v, want one containing %q and saying the download was removed", err, tc.msg)
			}
			for _, p := range []string{e.Path(dir), e.Path(dir) + ".part"} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s exists after a failed check", p)
				}
			}
		})
	}
}

// TestGetResumes: a connection cut after 100 kB leaves a .part file and an error that says to run the
// command again; the next Get asks for the rest with a Range request, receives only the rest, and
// checks the digest of the whole file. A server that ignores Range gets the file from the start.
func TestGetResumes(t *testing.T) {
	s := &server{cutFirst: 1, cut: 100_000}
	e, digest, dir := fixture(t, s)
	_, err := Get(context.Background(), e, GetOptions{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "cut after") || !strings.Contains(err.Error(), "run the same command again to resume") {
		t.Fatalf("cut connection: error %v", err)
	}
	part, err := os.Stat(e.Path(dir) + ".part")
	if err != nil || part.Size() != 100_000 {
		t.Fatalf("partial file: %v, %v; want 100000 bytes kept", part, err)
	}
	res, err := Get(context.Background(), e, GetOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 100_000 || res.SHA256 != digest || s.ranges[1] != "bytes=100000-" || s.served != 300_000 {
		t.Errorf("resume: %+v, ranges %q, %d bytes served; want 100000 kept, the rest requested and 300000 served in all", res, s.ranges, s.served)
	}

	s2 := &server{cutFirst: 1, cut: 50_000, noRange: true}
	e2, digest2, dir2 := fixture(t, s2)
	Get(context.Background(), e2, GetOptions{Dir: dir2})
	res, err = Get(context.Background(), e2, GetOptions{Dir: dir2})
	if err != nil || res.SHA256 != digest2 || res.Resumed != 0 {
		t.Errorf("server without Range: %+v, %v; want a fresh, checked download", res, err)
	}
}

// TestGetCompletePart: a .part file that already holds the whole file (the rename was lost) is
// checked and moved into place when the server answers the range with 416; a .part that is not the
// file is replaced by a fresh download.
func TestGetCompletePart(t *testing.T) {
	s := &server{}
	e, digest, dir := fixture(t, s)
	os.MkdirAll(filepath.Dir(e.Path(dir)), 0o755)
	os.WriteFile(e.Path(dir)+".part", s.content, 0o644)
	res, err := Get(context.Background(), e, GetOptions{Dir: dir})
	if err != nil || res.SHA256 != digest || s.served > 100 {
		t.Errorf("complete part: %+v, %v, %d bytes served; want no file content served (only the 416 page)", res, err, s.served)
	}
	s2 := &server{}
	e2, digest2, dir2 := fixture(t, s2)
	os.MkdirAll(filepath.Dir(e2.Path(dir2)), 0o755)
	os.WriteFile(e2.Path(dir2)+".part", bytes.Repeat([]byte{1}, 300_000), 0o644)
	res, err = Get(context.Background(), e2, GetOptions{Dir: dir2})
	if err != nil || res.SHA256 != digest2 {
		t.Errorf("wrong complete part: %+v, %v", res, err)
	}
}

// TestGetDeclaredDigest: without a recorded digest, the one the server declares is checked; without
// either, the result says plainly that nothing was checked.
func TestGetDeclaredDigest(t *testing.T) {
	s := &server{}
	e, digest, dir := fixture(t, s)
	e.SHA256Prefix = ""
	s.declared = digest
	res, err := Get(context.Background(), e, GetOptions{Dir: dir})
	if err != nil || !strings.Contains(res.Check, "server declared") {
		t.Errorf("declared digest: %+v, %v", res, err)
	}
	s2 := &server{}
	e2, _, dir2 := fixture(t, s2)
	e2.SHA256Prefix = ""
	res, err = Get(context.Background(), e2, GetOptions{Dir: dir2})
	if err != nil || !strings.HasPrefix(res.Check, "NOTHING") {
		t.Errorf("no digest anywhere: %+v, %v", res, err)
	}
}

// TestGetNoNetwork: a server that cannot be reached is a NoNetwork error that says what to do.
func TestGetNoNetwork(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	e := Entry{Name: "torchvision/x", Source: "torchvision", URL: "http://" + addr + "/x.pth", File: "x.pth", SHA256Prefix: "00"}
	_, err = Get(context.Background(), e, GetOptions{Dir: t.TempDir()})
	var nn *NoNetwork
	if !errors.As(err, &nn) || !strings.Contains(err.Error(), "no network: cannot reach "+addr) || !strings.Contains(err.Error(), "on a machine with internet access") {
		t.Errorf("error %v, want NoNetwork saying what to do", err)
	}
}

// TestResolve: names resolve to the cache or to the exact get command, paths to themselves, and
// anything else to an error that suggests names.
func TestResolve(t *testing.T) {
	dir := t.TempDir()
	e, _ := Lookup("torchvision/resnet50.v2")
	os.MkdirAll(filepath.Dir(e.Path(dir)), 0o755)
	os.WriteFile(e.Path(dir), []byte("x"), 0o644)
	file := filepath.Join(dir, "mine.pth")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, tc := range []struct {
		spec, path, err string
	}{
		{"torchvision/resnet50.v2", e.Path(dir), ""},
		{"torchvision/resnet50.IMAGENET1K_V2", e.Path(dir), ""},
		{"torchvision/resnet18.v1", "", "not in the weights cache"},
		{"torchvision/resnet18.v1", "", "\n  go run ./cmd/weights get torchvision/resnet18.v1\n"},
		{file, file, ""},
		{filepath.Join(dir, "nope.pth"), "", "file not found"},
		{"resnet18.safetensors", "", "file not found"},
		{dir, "", "is a directory"},
		{"resnet18", "", `"resnet18" is neither a weights file nor a known name; did you mean torchvision/resnet18.v1?`},
		{"torchvision/resnet50", "", "did you mean torchvision/resnet50.v1, torchvision/resnet50.v2, timm/resnet50.tv_in1k"},
		{"imagenet", "", "did you mean torchvision/resnet18.v1, torchvision/resnet34.v1"},
	} {
		p, _, err := Resolve(tc.spec, dir)
		if p != tc.path || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Resolve(%q) = %q, %v; want %q and an error containing %q", tc.spec, p, err, tc.path, tc.err)
		}
	}
}

// TestCatalogue: names are unique and resolvable; torchvision's URLs carry the prefix the entry checks;
// every entry states where its figures come from.
func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Known {
		for _, n := range append([]string{e.Name}, e.Aliases...) {
			if seen[strings.ToLower(n)] {
				t.Errorf("name %s twice", n)
			}
			seen[strings.ToLower(n)] = true
			if got, ok := Lookup(n); !ok || got.Name != e.Name {
				t.Errorf("Lookup(%s) = %s, %v", n, got.Name, ok)
			}
		}
		if e.Source == "torchvision" && (!strings.HasSuffix(e.URL, "/"+e.File) || !strings.HasSuffix(e.File, "-"+e.SHA256Prefix+".pth") || len(e.SHA256Prefix) != 8) {
			t.Errorf("%s: URL %s, file %s, prefix %q", e.Name, e.URL, e.File, e.SHA256Prefix)
		}
		if e.Reported == "" || e.Top1 <= 0 || e.CropSize != 224 || e.ResizeSize < 224 {
			t.Errorf("%s: incomplete entry %+v", e.Name, e)
		}
		if e.SHA256 != "" || e.Size != 0 {
			t.Errorf("%s records a full sha256 or a size that nothing here could check", e.Name)
		}
	}
}

// torchvisionMeta prints the installed torchvision's metadata of the ResNet weights as JSON.
const torchvisionMeta = `
import json, torchvision.models as m
out = {}
for d in (18, 34, 50, 101):
    for w in getattr(m, 'ResNet%d_Weights' % d):
        t = w.transforms()
        out['torchvision/resnet%d.v%s' % (d, w.name[-1])] = {'url': w.url, 'top1': w.meta['_metrics']['ImageNet-1K']['acc@1'], 'resize': t.resize_size[0], 'crop': t.crop_size[0]}
print(json.dumps(out))
`

// TestTorchvisionEntries compares the catalogue's torchvision entries with the metadata of the
// torchvision installed here: the same set of weights, URLs, top-1 and evaluation resize/crop.
func TestTorchvisionEntries(t *testing.T) {
	py := pyref.Torch(t)
	var meta map[string]struct {
		URL          string
		Top1         float64
		Resize, Crop int
	}
	if err := json.Unmarshal(pyref.Run(t, py, torchvisionMeta), &meta); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range Known {
		if e.Source != "torchvision" {
			continue
		}
		n++
		m, ok := meta[e.Name]
		if !ok || m.URL != e.URL || m.Top1 != e.Top1 || m.Resize != e.ResizeSize || m.Crop != e.CropSize {
			t.Errorf("%s: catalogue %s %.3f %d/%d, torchvision %+v", e.Name, e.URL, e.Top1, e.ResizeSize, e.CropSize, m)
		}
	}
	if n != len(meta) {
		t.Errorf("%d torchvision entries, torchvision has %d ResNet-18/34/50/101 weights: %v", n, len(meta), meta)
	}
}

func Example() {
	e, _ := Lookup("torchvision/resnet50.v2")
	fmt.Println(e.URL)
	fmt.Println(e.Top1, e.ResizeSize, e.CropSize)
	fmt.Println(e.GetCommand())
	// Output:
	// https://download.pytorch.org/models/resnet50-11ad3fa6.pth
	// 80.858 232 224
	// go run ./cmd/weights get torchvision/resnet50.v2
}

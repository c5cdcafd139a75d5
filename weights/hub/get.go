package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// GetOptions configure Get.
type GetOptions struct {
	// Dir is the cache directory; "" means CacheDir().
	Dir string
	// Client makes the requests; nil means a client that gives up connecting after 30 s.
	Client *http.Client
	// Progress receives a progress bar; nil shows none.
	Progress io.Writer
}

// GetResult describes a file Get put in (or found in) the cache.
type GetResult struct {
	Path    string
	SHA256  string // full hex digest of the file
	Check   string // what the digest was checked against, in words
	Cached  bool   // the file was already there (and checked again)
	Resumed int64  // bytes of an earlier partial download that were kept
	Size    int64
}

// NoNetwork is the error of a download that could not reach the server.
type NoNetwork struct {
	Host string
	Err  error
}

func (e *NoNetwork) Error() string {
	return fmt.Sprintf("no network: cannot reach %s (%v)", e.Host, e.Err)
}

func (e *NoNetwork) Unwrap() error { return e.Err }

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Get downloads e into the cache: into a .part file beside its final path, resuming a partial one
// with an HTTP Range request, hashing as it writes; checks the sha256 against what is known of it
// (HashCheck) and renames the file into place only then, with its digest in a .sha256 file beside it.
// A cut connection keeps the .part file for the next Get; a digest that does not match removes it. A
// file already in the cache is checked and returned. Cancel ctx to stop (the partial file is kept).
func Get(ctx context.Context, e Entry, opt GetOptions) (*GetResult, error) {
	dir := opt.Dir
	if dir == "" {
		var err error
		if dir, err = CacheDir(); err != nil {
			return nil, err
		}
	}
	final := e.Path(dir)
	if _, err := os.Stat(final); err == nil {
		sum, size, err := hashFile(final)
		if err != nil {
			return nil, err
		}
		check, err := verify(e, sum, sidecar(final))
		if err != nil {
			return nil, fmt.Errorf("%s in the cache: %w; delete it and get it again", final, err)
		}
		return &GetResult{Path: final, SHA256: sum, Check: check, Cached: true, Size: size}, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, fmt.Errorf("weights cache: %w", err)
	}
	client := opt.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		}}
	}
	res, err := download(ctx, client, e, final+".part", opt.Progress, true)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(final+".part", final); err != nil {
		return nil, fmt.Errorf("weights cache: %w", err)
	}
	if err := os.WriteFile(final+".sha256", []byte(res.SHA256+"  "+filepath.Base(final)+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("weights cache: %w", err)
	}
	res.Path = final
	return res, nil
}

// download fetches e.URL into part, resuming it; retry allows one restart from zero when the server
// refuses the range of a part that turns out not to be the file.
func download(ctx context.Context, client *http.Client, e Entry, part string, progress io.Writer, retry bool) (*GetResult, error) {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("weights cache: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	have, err := io.Copy(h, f) // hash what an earlier download left
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", part, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.URL, err)
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, networkError(ctx, req.URL, e, strings.TrimSuffix(part, ".part"), err)
	}
	defer resp.Body.Close()
	resumed := int64(0)
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		start, ok := rangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			return nil, fmt.Errorf("%s: the server answered the range from byte %d with %q", e.URL, have, resp.Header.Get("Content-Range"))
		}
		resumed = have
	case resp.StatusCode == http.StatusOK:
		if err := restart(f, h); err != nil {
			return nil, err
		}
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// The part may be the whole file already; if it is not, start over once.
		sum := hex.EncodeToString(h.Sum(nil))
		if check, err := verify(e, sum, serverDigest(resp)); err == nil {
			return &GetResult{SHA256: sum, Check: check, Resumed: have, Size: have}, nil
		}
		f.Close()
		if err := os.Remove(part); err != nil || !retry {
			return nil, fmt.Errorf("%s: the server refused to resume %s (HTTP %s)", e.URL, part, resp.Status)
		}
		return download(ctx, client, e, part, progress, false)
	default:
		return nil, fmt.Errorf("%s: HTTP %s", e.URL, resp.Status)
	}
	total := int64(-1)
	if resp.ContentLength >= 0 {
		total = have + resp.ContentLength
	}
	var w io.Writer = io.MultiWriter(f, h)
	if progress != nil {
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(progress),
			progressbar.OptionSetDescription(e.Name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }),
		)
		_ = bar.Set64(have)
		defer bar.Finish()
		w = io.MultiWriter(w, bar)
	}
	n, err := io.Copy(w, resp.Body)
	got := have + n
	if err == nil && total >= 0 && got != total {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		if serr := f.Sync(); serr != nil {
			return nil, fmt.Errorf("%s: %w", part, serr)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("download of %s stopped after %s of %s; the partial file %s is kept: run the same command again to resume", e.Name, mb(got), mb(total), part)
		}
		return nil, fmt.Errorf("download of %s cut after %s of %s (%v); the partial file %s is kept: run the same command again to resume", e.Name, mb(got), mb(total), err, part)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("%s: %w", part, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	check, err := verify(e, sum, serverDigest(resp))
	if err != nil {
		f.Close()
		os.Remove(part)
		return nil, fmt.Errorf("download of %s from %s: %w; the download was removed (a changed or corrupted upstream file, or a proxy's page?)", e.Name, e.URL, err)
	}
	return &GetResult{SHA256: sum, Check: check, Resumed: resumed, Size: got}, nil
}

// restart empties the part file and the hash.
func restart(f *os.File, h hash.Hash) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h.Reset()
	return nil
}

// verify checks a digest against what is known of e's, or else the digest the server declared, and
// says in words what it was checked against.
func verify(e Entry, sum, declared string) (string, error) {
	switch {
	case e.SHA256 != "":
		if sum != e.SHA256 {
			return "", fmt.Errorf("sha256 %s, want %s", sum, e.SHA256)
		}
		return "the full sha256 recorded in the catalogue", nil
	case e.SHA256Prefix != "":
		if !strings.HasPrefix(sum, e.SHA256Prefix) {
			return "", fmt.Errorf("sha256 %s does not start with %s (the prefix in the file name)", sum, e.SHA256Prefix)
		}
		return fmt.Sprintf("the sha256 prefix %s of the file name (%d of 64 hex digits; the full digest is not recorded)", e.SHA256Prefix, len(e.SHA256Prefix)), nil
	case declared != "":
		if sum != declared {
			return "", fmt.Errorf("sha256 %s, the server declared %s", sum, declared)
		}
		return "the sha256 the server declared (X-Linked-Etag) or, for a cached file, the one recorded at its download; the catalogue records none", nil
	}
	return "NOTHING: no sha256 is recorded for this file and the server declared none; the digest is recorded in the .sha256 file beside it", nil
}

// sidecar is the digest recorded in path's .sha256 file at download, or "".
func sidecar(path string) string {
	b, err := os.ReadFile(path + ".sha256")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 && hexDigest.MatchString(f[0]) {
		return f[0]
	}
	return ""
}

// serverDigest is the sha256 a Hugging Face server declares for an LFS file (X-Linked-Etag), or "".
func serverDigest(resp *http.Response) string {
	for _, k := range []string{"X-Linked-Etag", "X-Sha256"} {
		v := strings.Trim(strings.TrimPrefix(resp.Header.Get(k), "W/"), `"`)
		if hexDigest.MatchString(v) {
			return v
		}
	}
	return ""
}

// rangeStart parses the first byte of "bytes START-END/TOTAL".
func rangeStart(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

// networkError turns a failed request into NoNetwork when the server could not be reached at all.
func networkError(ctx context.Context, u *url.URL, e Entry, final string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("download of %s: %w", e.Name, ctx.Err())
	}
	var dns *net.DNSError
	var op *net.OpError
	var ne net.Error
	if errors.As(err, &dns) || errors.As(err, &op) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w.\nDownload %s on a machine with internet access, then copy it to %s (the cache; %s moves it), or set model.pretrained to the file's path", &NoNetwork{Host: u.Host, Err: err}, e.URL, final, CacheEnv)
	}
	return fmt.Errorf("download of %s: %w", e.Name, err)
}

// hashFile is the sha256 and size of a file.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// mb formats a byte count ("unknown" when negative).
func mb(n int64) string {
	if n < 0 {
		return "an unknown size"
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

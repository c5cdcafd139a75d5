package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CacheEnv is the environment variable that overrides the cache directory.
const CacheEnv = "FINEGRAIN_WEIGHTS"

// CacheDir is the weights cache: $FINEGRAIN_WEIGHTS, else ~/.cache/finegrain/weights.
func CacheDir() (string, error) {
	if d := os.Getenv(CacheEnv); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("weights cache: no home directory (%w); set %s", err, CacheEnv)
	}
	return filepath.Join(home, ".cache", "finegrain", "weights"), nil
}

// Path is where e lives in the cache directory dir.
func (e Entry) Path(dir string) string { return filepath.Join(dir, e.Source, e.File) }

// GetCommand is the command that downloads e into the cache.
func (e Entry) GetCommand() string { return "go run ./cmd/weights get " + e.Name }

// weightExts are the file extensions of weights files.
var weightExts = []string{".pth", ".pt", ".bin", ".safetensors", ".ckpt", ".tar"}

// Resolve turns a model.pretrained value into a file: a known name (torchvision/resnet50.v2) gives its
// file in the cache dir ("" means CacheDir()), and an error that prints the exact cmd/weights get
// command when it is not there; anything else is a path, which must exist. A value that is neither an
// existing file nor a known name is an error that lists the names it may have meant. Nothing is
// downloaded.
func Resolve(spec, dir string) (path string, entry *Entry, err error) {
	if e, ok := Lookup(spec); ok {
		if dir == "" {
			if dir, err = CacheDir(); err != nil {
				return "", nil, err
			}
		}
		p := e.Path(dir)
		if _, err := os.Stat(p); err != nil {
			return "", &e, fmt.Errorf("%s is not in the weights cache (%s): download it first with\n  %s\n(or set %s to the cache directory that holds it)", e.Name, p, e.GetCommand(), CacheEnv)
		}
		return p, &e, nil
	}
	st, err := os.Stat(spec)
	switch {
	case err == nil && st.IsDir():
		return "", nil, fmt.Errorf("%s is a directory, want a weights file (.pth, .bin or .safetensors) or a known name (go run ./cmd/weights list)", spec)
	case err == nil:
		return spec, nil, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", nil, fmt.Errorf("weights file %s: %w", spec, err)
	}
	looksLikePath := strings.ContainsRune(spec, os.PathSeparator) && !strings.HasPrefix(spec, "torchvision/") && !strings.HasPrefix(spec, "timm/")
	for _, ext := range weightExts {
		looksLikePath = looksLikePath || strings.HasSuffix(strings.ToLower(spec), ext)
	}
	if looksLikePath {
		return "", nil, fmt.Errorf("weights file %s: file not found", spec)
	}
	return "", nil, fmt.Errorf("%q is neither a weights file nor a known name; did you mean %s? (go run ./cmd/weights list shows them all)", spec, strings.Join(suggest(trimSource(spec)), ", "))
}

package configs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Dir is where a -config name that is not a file is looked up: the repository's configs/, relative to
// the working directory. The directory on disk is used, not a copy built into the binary: the file a
// user reads and edits is then the one a run uses, messages name a real file, and the shipped
// configurations name their datasets and weights relative to the repository root anyway.
const Dir = "configs"

// Resolve is the configuration file that a -config value names: the value itself if it exists,
// else the first existing file of NAME.yaml, Dir/NAME and Dir/NAME.yaml (the suffix is tried
// only when NAME has no .yaml or .yml; Dir only for a relative NAME). A file in the working
// directory thus wins over one of the same name in configs/. When none exists, the error lists the
// configurations in Dir and the nearest name.
func Resolve(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	if _, err := os.Stat(name); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return name, nil // exists, or cannot be checked: reading it says why
	}
	withSuffix := func(p string) []string {
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml":
			return []string{p}
		}
		return []string{p, p + ".yaml"}
	}
	tried := withSuffix(name)
	if !filepath.IsAbs(name) {
		tried = append(tried, withSuffix(filepath.Join(Dir, name))...)
	}
	for _, p := range tried[1:] {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	msg := fmt.Sprintf("read config: %s: no such file or directory", name)
	if len(tried) > 1 {
		msg += " (nor " + strings.Join(tried[1:], ", ") + ")"
	}
	if filepath.IsAbs(name) {
		return name, notFound(msg)
	}
	names, err := Names()
	switch {
	case err != nil:
		msg += fmt.Sprintf("; a name is looked up in %s/ of the working directory, which has none: run from the repository root, or give the file's path", Dir)
	case len(names) == 0:
		msg += fmt.Sprintf("; %s/ holds no .yaml file", Dir)
	default:
		stem := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
		stems := make([]string, len(names))
		for i, n := range names {
			stems[i] = strings.TrimSuffix(n, filepath.Ext(n))
		}
		if best, ok := Closest(stem, stems); ok {
			msg += fmt.Sprintf(" (did you mean %s?)", best)
		}
		msg += fmt.Sprintf("; the configurations in %s/ are %s", Dir, strings.Join(stems, ", "))
	}
	return name, notFound(msg)
}

// notFound is the error of a configuration that does not exist: its message says what was tried and
// what exists, and it wraps fs.ErrNotExist for callers that test for it.
type notFound string

func (e notFound) Error() string { return string(e) }

func (e notFound) Unwrap() error { return fs.ErrNotExist }

// Names lists the YAML files of Dir.
func Names() ([]string, error) {
	entries, err := os.ReadDir(Dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", Dir, err)
	}
	var names []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml":
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// Closest is the candidate nearest to name by edit distance, if it is near enough to be a typo.
func Closest(name string, candidates []string) (string, bool) {
	best, dist := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(name, c); d < dist {
			best, dist = c, d
		}
	}
	return best, dist <= max(3, len(name)/4)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

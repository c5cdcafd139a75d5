package sweep

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/finegrain/finegrain/configs"
)

// DefaultConfig is the configuration template of the paper's grid: configs/<variant>_<dataset>.yaml.
const DefaultConfig = "configs/{variant}_{dataset}.yaml"

// Keys the sweep sets itself on every run; a -set of one of them would make runs of the grid identical.
const (
	keyAttention = "model.attention"
	keySeed      = "train.seed"
	keyThreads   = "runtime.intra_op_threads"
	keyWorkers   = "data.workers"
)

// Grid is the set of runs of a sweep: every dataset × variant × seed.
type Grid struct {
	Datasets []string
	Variants []string // attention variants: none, fcn, ca, sa, csca
	Seeds    []int64
	// Config is the trainer configuration of each run, with {dataset} and {variant} replaced by the run's
	// (DefaultConfig when empty). A template without {variant} gets -set model.attention=<variant>.
	Config string
	// Sets are key=value overrides passed to every run after the sweep's own.
	Sets []string
	// Out is the sweep directory; a run's directory is Out/<dataset>/<variant>/seed<S>.
	Out string
	// Threads, when positive, sets runtime.intra_op_threads and data.workers of every run unless Sets
	// does: runs sharing the machine then do not each start one thread per CPU.
	Threads int
}

// Run is one training run of a grid.
type Run struct {
	Dataset string
	Variant string
	Seed    int64
	Config  string   // the configuration file
	Sets    []string // every key=value override, in the order given to the trainer
	Dir     string   // the run directory
}

// Name is dataset/variant/seed<S>, the run's directory below the sweep's.
func (r Run) Name() string {
	return r.Dataset + "/" + r.Variant + "/seed" + strconv.FormatInt(r.Seed, 10)
}

// Args are the trainer's arguments for the run; resume adds -resume.
func (r Run) Args(resume bool) []string {
	a := []string{"-config", r.Config}
	for _, s := range r.Sets {
		a = append(a, "-set", s)
	}
	a = append(a, "-out", r.Dir)
	if resume {
		a = append(a, "-resume")
	}
	return a
}

// Runs expands the grid, seed by seed (so that an interrupted sweep has whole comparisons first), then
// dataset, then variant. Every problem (an empty list, a duplicate, a name unfit for a directory, a
// missing configuration file, an override of a key the sweep sets) is reported at once.
func (g Grid) Runs() ([]Run, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	checkNames := func(what string, names []string) {
		if len(names) == 0 {
			bad("%s: none given", what)
		}
		seen := map[string]bool{}
		for _, n := range names {
			switch {
			case n == "" || n == "." || n == ".." || strings.ContainsAny(n, `/\{}`) || strings.TrimSpace(n) != n:
				bad("%s: %q: want a plain name (it names a directory)", what, n)
			case seen[n]:
				bad("%s: %q given twice", what, n)
			}
			seen[n] = true
		}
	}
	checkNames("datasets", g.Datasets)
	checkNames("variants", g.Variants)
	if len(g.Seeds) == 0 {
		bad("seeds: none given")
	}
	seenSeed := map[int64]bool{}
	for _, s := range g.Seeds {
		if seenSeed[s] {
			bad("seeds: %d given twice", s)
		}
		seenSeed[s] = true
	}
	if g.Out == "" {
		bad("out: no sweep directory given")
	}
	tmpl := g.Config
	if tmpl == "" {
		tmpl = DefaultConfig
	}
	if !strings.Contains(tmpl, "{dataset}") && len(g.Datasets) > 1 {
		bad("config %s: has no {dataset} but %d datasets are given: every dataset would train on the same data", tmpl, len(g.Datasets))
	}
	userKeys := map[string]bool{}
	for _, s := range g.Sets {
		k, _, ok := strings.Cut(s, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			bad("set %q: want key=value", s)
			continue
		}
		if k == keySeed || k == keyAttention {
			bad("set %q: %s is set by the sweep (use -seeds or -variants)", s, k)
		}
		userKeys[k] = true
	}
	var runs []Run
	missing := map[string]bool{}
	for _, seed := range g.Seeds {
		for _, d := range g.Datasets {
			for _, v := range g.Variants {
				cfg := strings.NewReplacer("{dataset}", d, "{variant}", v).Replace(tmpl)
				// A name resolves in configs/ as cmd/train's -config does (csca_{dataset}).
				resolved, err := configs.Resolve(cfg)
				if err == nil {
					_, err = os.Stat(resolved)
				}
				if err != nil && !missing[cfg] {
					missing[cfg] = true
					if errors.Is(err, os.ErrNotExist) {
						bad("config %s (%s/%s): no such file", cfg, d, v)
					} else {
						bad("config %s (%s/%s): %v", cfg, d, v, err)
					}
				}
				cfg = resolved
				var sets []string
				if !strings.Contains(tmpl, "{variant}") {
					sets = append(sets, keyAttention+"="+v)
				}
				sets = append(sets, fmt.Sprintf("%s=%d", keySeed, seed))
				if g.Threads > 0 {
					for _, k := range []string{keyThreads, keyWorkers} {
						if !userKeys[k] {
							sets = append(sets, fmt.Sprintf("%s=%d", k, g.Threads))
						}
					}
				}
				sets = append(sets, g.Sets...)
				r := Run{Dataset: d, Variant: v, Seed: seed, Config: cfg, Sets: sets}
				r.Dir = filepath.Join(g.Out, filepath.FromSlash(r.Name()))
				runs = append(runs, r)
			}
		}
	}
	if len(problems) > 0 {
		return nil, &GridError{Problems: problems}
	}
	return runs, nil
}

// GridError lists every problem of a grid.
type GridError struct {
	Problems []string
}

func (e *GridError) Error() string {
	return "sweep grid: " + strings.Join(e.Problems, "; ")
}

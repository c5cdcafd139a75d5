package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// Options choose what Generate writes.
type Options struct {
	Metric string // a summary field of Metrics; empty means test_top1
	Paper  bool   // add the paper's Table 1 after ours
	Plots  bool   // draw the PNG plots
}

// Result is what Generate found and wrote.
type Result struct {
	Runs     []Run
	Problems []Problem // files skipped, with why
	Table    *Table
	Paired   []Paired // each variant's paired differences to none (Table.PairedDifferences)
	Markdown []byte   // the text of report.md
	Files    []string // the files written
}

// Generate gathers the runs below root and writes, in out: report.md (the table, its settings and
// warnings, the paired differences to none, the paper's table with Options.Paper, the plots and the
// skipped files), table.csv (the table), paired.csv (the paired differences), runs.csv (one row per run)
// and, with Options.Plots, the PNG plots of Plots.
func Generate(root, out string, o Options) (*Result, error) {
	if o.Metric == "" {
		o.Metric = "test_top1"
	}
	runs, problems, err := Load(root)
	if err != nil {
		return nil, err
	}
	t, err := NewTable(runs, o.Metric)
	if err != nil {
		return nil, err
	}
	res := &Result{Runs: runs, Problems: problems, Table: t, Paired: t.PairedDifferences()}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("report directory: %w", err)
	}
	var plots []string
	if o.Plots {
		plots, err = Plots(out, t)
		res.Files = append(res.Files, plots...)
		if err != nil {
			return res, err
		}
	}
	var md bytes.Buffer
	fmt.Fprintf(&md, "# Results\n\n%d finished runs", len(runs))
	if len(problems) > 0 {
		fmt.Fprintf(&md, "; %d files skipped (listed at the end)", len(problems))
	}
	md.WriteString(".\n\n")
	if len(runs) == 0 {
		md.WriteString("No finished runs (RUN/summary.json) were found.\n")
	} else {
		if err := t.Markdown(&md); err != nil {
			return res, err
		}
		md.WriteString("\n")
		if err := t.PairedMarkdown(&md, res.Paired); err != nil {
			return res, err
		}
	}
	if o.Paper {
		md.WriteString("\n")
		if err := PaperMarkdown(&md); err != nil {
			return res, err
		}
	}
	if len(plots) > 0 {
		md.WriteString("\n### Plots\n\n")
		for _, p := range plots {
			name := filepath.Base(p)
			fmt.Fprintf(&md, "![%s](%s)\n", name, name)
		}
	}
	if len(problems) > 0 {
		md.WriteString("\n### Skipped files\n\n")
		for _, p := range problems {
			path := p.Path
			if rel, err := filepath.Rel(root, p.Path); err == nil {
				path = filepath.ToSlash(rel)
			}
			fmt.Fprintf(&md, "- %s: %v\n", path, p.Err)
		}
	}
	res.Markdown = md.Bytes()

	var table, paired, runsCSV bytes.Buffer
	if err := t.CSV(&table); err != nil {
		return res, err
	}
	if err := t.PairedCSV(&paired, res.Paired); err != nil {
		return res, err
	}
	if err := RunsCSV(&runsCSV, runs, root); err != nil {
		return res, err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"report.md", res.Markdown}, {"table.csv", table.Bytes()},
		{"paired.csv", paired.Bytes()}, {"runs.csv", runsCSV.Bytes()}} {
		path := filepath.Join(out, f.name)
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			return res, fmt.Errorf("write report %s: %w", path, err)
		}
		res.Files = append(res.Files, path)
	}
	return res, nil
}

package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/finegrain/finegrain/nets"
	"github.com/finegrain/finegrain/weights"
	"github.com/finegrain/finegrain/weights/hub"
)

// PretrainedFile is the name of the import report in a run directory.
const PretrainedFile = "pretrained.json"

// PretrainedImport is RUN/pretrained.json: what model.pretrained named, the file it resolved to and
// the import's report (loaded, initialised, unused and skipped by name, the file's sha256, and with
// model.pretrained_strict: false the problems a strict import would have refused).
type PretrainedImport struct {
	Spec string `json:"spec"`           // model.pretrained as configured
	Name string `json:"name,omitempty"` // the known name it resolved from (cmd/weights list)
	nets.ImportReport
}

// PretrainedSummary is the import in summary.json: the report without its long name lists.
type PretrainedSummary struct {
	Spec        string   `json:"spec"`
	Name        string   `json:"name,omitempty"`
	File        string   `json:"file"`
	SHA256      string   `json:"sha256"`
	Strict      bool     `json:"strict"`
	Loaded      int      `json:"loaded"`
	Initialised []string `json:"initialised"`
	Unused      []string `json:"unused"`
	Skipped     int      `json:"skipped"`
	Problems    []string `json:"problems,omitempty"`
	Notes       []string `json:"notes,omitempty"`
}

// Summary is the compact form of the import for summary.json.
func (p *PretrainedImport) Summary() *PretrainedSummary {
	r := p.ImportReport
	return &PretrainedSummary{
		Spec: p.Spec, Name: p.Name, File: r.File, SHA256: r.SHA256, Strict: r.Strict,
		Loaded: len(r.Loaded), Initialised: r.Initialised, Unused: r.Unused, Skipped: len(r.Skipped),
		Problems: r.Problems, Notes: r.Notes,
	}
}

// ReadPretrained reads RUN/pretrained.json; a run that started from scratch has none (nil, nil).
func ReadPretrained(runDir string) (*PretrainedImport, error) {
	b, err := readRunFile(filepath.Join(runDir, PretrainedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p PretrainedImport
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(runDir, PretrainedFile), err)
	}
	return &p, nil
}

// importPretrained resolves model.pretrained (a path or a known name in the weights cache), checks a
// cached known file against what the catalogue knows of its sha256, imports it (strictly unless
// model.pretrained_strict is false) and writes RUN/pretrained.json.
func (r *runner) importPretrained() (*PretrainedImport, error) {
	m := r.cfg.Model
	path, entry, err := hub.Resolve(m.Pretrained, "")
	if err != nil {
		return nil, fmt.Errorf("model.pretrained: %w", err)
	}
	f, err := weights.Read(path)
	if err != nil {
		return nil, fmt.Errorf("model.pretrained %s: %w", m.Pretrained, err)
	}
	p := &PretrainedImport{Spec: m.Pretrained}
	if entry != nil {
		p.Name = entry.Name
		if (entry.SHA256 != "" && f.SHA256 != entry.SHA256) || !strings.HasPrefix(f.SHA256, entry.SHA256Prefix) {
			return nil, fmt.Errorf("model.pretrained %s: the cached file %s has sha256 %s, which is not the file the catalogue knows (sha256 %s): delete it and run %s",
				entry.Name, path, f.SHA256, entry.HashCheck(), entry.GetCommand())
		}
	}
	if p.ImportReport, err = nets.ImportFile(r.sess, r.tg.G, f, nets.ImportOptions{Partial: !m.StrictImport}); err != nil {
		return nil, fmt.Errorf("model.pretrained %s: %w", m.Pretrained, err)
	}
	if err := writeAtomic(filepath.Join(r.dir, PretrainedFile), p); err != nil {
		return nil, err
	}
	return p, nil
}

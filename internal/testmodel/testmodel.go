package testmodel

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/nets"
)

// The model's input side, resize and class names.
const (
	Size   = 32
	Resize = 36
)

// Labels are the model's class names in class-id order.
var Labels = []string{"w", "x", "y", "z"}

// Model is the exported model of one test binary.
type Model struct {
	once sync.Once
	dir  string
	err  error
}

// Dir exports the model the first time it is called and returns its directory.
func (m *Model) Dir(t testing.TB) string {
	t.Helper()
	m.once.Do(func() {
		dir, err := os.MkdirTemp("", "testmodel-")
		if err != nil {
			m.err = err
			return
		}
		m.dir = filepath.Join(dir, "model")
		cfg := nets.DefaultConfig()
		cfg.Attention, cfg.Depth, cfg.WidthMultiplier, cfg.NumClasses = "sa", 18, 0.125, len(Labels)
		spec := exported.Spec{Net: cfg, Preprocess: exported.Preprocess{ResizeSize: Resize, ImageSize: Size}, Labels: Labels}
		m.err = exported.Export(context.Background(), m.dir, spec, nil)
	})
	if m.err != nil {
		t.Fatal(m.err)
	}
	return m.dir
}

// Remove deletes the exported model, if it was made.
func (m *Model) Remove() {
	if m.dir != "" {
		os.RemoveAll(filepath.Dir(m.dir))
	}
}

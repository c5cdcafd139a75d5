package train

import (
	"encoding/json"
	"math"
	"path/filepath"
	"testing"

	"github.com/finegrain/finegrain/internal/pyref"
)

// readEvents is the oracle: TensorBoard's own event-file loader when the tensorboard package is
// installed, else TensorFlow's summary_iterator (both check the TFRecord CRCs). It prints one JSON
// object per event.
const readEvents = `
import json, sys
path = sys.argv[1]
try:
    from tensorboard.backend.event_processing import event_file_loader
    events = event_file_loader.LegacyEventFileLoader(path).Load()
    reader = "tensorboard"
except ImportError:
    import tensorflow as tf
    events = tf.compat.v1.train.summary_iterator(path)
    reader = "tensorflow"
for e in events:
    out = {"reader": reader, "step": e.step, "wall_time": e.wall_time, "what": e.WhichOneof("what")}
    if e.HasField("file_version"):
        out["file_version"] = e.file_version
    if e.HasField("session_log"):
        out["session_log"] = e.session_log.status
    if e.HasField("summary"):
        vals = {}
        for v in e.summary.value:
            if v.HasField("simple_value"):
                vals[v.tag] = v.simple_value
            elif v.HasField("image"):
                import io
                from PIL import Image
                im = Image.open(io.BytesIO(v.image.encoded_image_string))
                vals[v.tag] = [v.image.height, v.image.width, v.image.colorspace, im.size[0], im.size[1], im.mode]
        out["values"] = vals
    print(json.dumps(out))
`

func TestEventFileReadByTensorBoard(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python with TensorBoard")
	}
	py := pyref.TensorFlow(t)
	dir := t.TempDir()
	ew, err := NewEventWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	img := make([]float32, 24*24*3)
	for i := range img {
		img[i] = float32(i % 255)
	}
	png, err := CAMOverlay(img, 24, []float32{0, 1, 2, 3, 4, 5}, 2, 3, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		step int64
		vals map[string]float64
	}{
		{1, map[string]float64{"train/loss": 2.5, "val/top1": 0.25}},
		{2, map[string]float64{"train/loss": 1.25, "val/top1": 0.5, "skipped": math.NaN()}},
	}
	for _, s := range steps {
		if err := ew.Scalars(s.step, s.vals, []string{"train/loss", "val/top1", "skipped"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ew.Image(2, "cam/0", png, 24, 24, 3); err != nil {
		t.Fatal(err)
	}
	if err := ew.Restart(1); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if len(files) != 1 {
		t.Fatalf("event files %v, want one", files)
	}
	var got []map[string]any
	for _, line := range splitLines(pyref.Run(t, py, readEvents, files[0])) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		got = append(got, m)
	}
	if len(got) != 5 {
		t.Fatalf("read %d events, want 5: %v", len(got), got)
	}
	t.Logf("read with %v", got[0]["reader"])
	if got[0]["file_version"] != "brain.Event:2" {
		t.Errorf("first event %v, want file_version brain.Event:2", got[0])
	}
	for i, s := range steps {
		e := got[i+1]
		if e["step"].(float64) != float64(s.step) {
			t.Errorf("event %d step %v, want %d", i+1, e["step"], s.step)
		}
		vals := e["values"].(map[string]any)
		if len(vals) != 2 {
			t.Errorf("event %d values %v, want train/loss and val/top1 (NaN left out)", i+1, vals)
		}
		for tag, v := range s.vals {
			if !math.IsNaN(v) && vals[tag] != v {
				t.Errorf("event %d %s = %v, want %v", i+1, tag, vals[tag], v)
			}
		}
	}
	im := got[3]["values"].(map[string]any)["cam/0"].([]any)
	if im[0].(float64) != 24 || im[1].(float64) != 24 || im[2].(float64) != 3 || im[3].(float64) != 24 || im[5] != "RGB" {
		t.Errorf("image event %v, want a 24×24 colour PNG", im)
	}
	if got[4]["session_log"].(float64) != 1 || got[4]["step"].(float64) != 1 {
		t.Errorf("last event %v, want SessionLog START at step 1", got[4])
	}
}

func splitLines(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == '\n' {
			if i > start {
				out = append(out, string(b[start:i]))
			}
			start = i + 1
		}
	}
	if start < len(b) {
		out = append(out, string(b[start:]))
	}
	return out
}

package main

import (
	"context"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/finegrain/finegrain/exported"
	"github.com/finegrain/finegrain/pipeline"
)

var (
	screenshot = flag.String("screenshot", "", "TestPageInBrowser: write a PNG of the page showing its prediction to this `file`")
	pageModel  = flag.String("page_model", "", "TestPageInBrowser: serve this SavedModel `dir` (or version base path) instead of the test model")
)

// browser is the path of an installed Chromium or Chrome, or "".
func browser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// predictTop is what cmd/predict answers for an image file: the evaluation pipeline decodes and crops
// it in Go (cmd/predict's evalConfig), the model predicts a batch of one.
func predictTop(t *testing.T, modelDir string, data []byte) []exported.Class {
	t.Helper()
	m, err := exported.Load(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := pipeline.DefaultConfig()
	cfg.ImageSize = m.InputSize()
	cfg.ResizeSize = m.Metadata().ResizeSize
	if cfg.ResizeSize == 0 {
		cfg.ResizeSize = cfg.ImageSize * 8 / 7
	}
	cfg.ResizeSize = max(cfg.ResizeSize, cfg.ImageSize)
	pix, err := pipeline.EvalEncoded(data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := m.InputSize()
	p, err := m.Predict(context.Background(), exported.Images{N: 1, Height: s, Width: s, Pix: pix})
	if err != nil {
		t.Fatal(err)
	}
	return m.TopK(p.Probabilities[0], 5)
}

// servedModelDir is the SavedModel folder the server serves for base (a plain SavedModel or the
// highest version folder).
func servedModelDir(t *testing.T, ts *testServer) string {
	t.Helper()
	sv, err := ts.models.acquire(-1)
	if err != nil {
		t.Fatal(err)
	}
	defer sv.release()
	return sv.dir
}

// TestPageInBrowser drives the page at GET / in headless Chromium: it uploads an image through the
// file input and clicks an example, waits for the bars and checks the top label and its percentage
// against cmd/predict's answer for the same file, the model line, the CAM overlay and its slider and
// the curl command. -screenshot FILE saves the page (scripts/serve-screenshot.sh makes
// docs/serve_page.png with it).
func TestPageInBrowser(t *testing.T) {
	exe := browser()
	if exe == "" {
		if testing.Short() {
			t.Skip("no chromium on PATH: bash scripts/setup-browser.sh installs it (skipped with -short only)")
		}
		t.Fatal("no chromium on PATH: run bash scripts/setup-browser.sh (make test runs it)")
	}
	base := *pageModel
	if base == "" {
		base = versionBase(t, 1)
	}
	ts := startServer(t, base, nil)
	dir := servedModelDir(t, ts)

	upload, err := os.ReadFile(filepath.Join("web", "examples", "blue_barred_finch.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	uploadPath := filepath.Join(t.TempDir(), "my bird's photo.jpg") // a name the curl line must quote
	if err := os.WriteFile(uploadPath, upload, 0o644); err != nil {
		t.Fatal(err)
	}
	example, err := webFiles.ReadFile("web/examples/red_barred_finch.jpg")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // tests may run as root, where Chromium's sandbox refuses to start
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1000, 780),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	q := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/")); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	modelLine, err := chromedp.Run(bctx, chromedp.Poll[string](`document.getElementById("model").textContent.includes("version") && document.getElementById("model").textContent`,
		chromedp.WithPollingTimeout(time.Minute)))
	if err != nil {
		t.Fatalf("the page's model line: %v", err)
	}
	meta := readMetadata(t, dir)
	for _, want := range []string{"model m", string(meta.Net.Attention), "version 1"} {
		if !strings.Contains(modelLine, want) {
			t.Errorf("model line %q lacks %q", modelLine, want)
		}
	}

	for _, tc := range []struct {
		name    string
		data    []byte
		action  chromedp.Action[chromedp.Void]
		curlArg string
	}{
		{"upload", upload, chromedp.SetUploadFiles(q("#file"), []string{uploadPath}), `@'my bird'\''s photo.jpg'`},
		{"example", example, chromedp.Click(q(`.example[data-src$="red_barred_finch.jpg"]`)), "@'red_barred_finch.jpg'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := predictTop(t, dir, tc.data)
			err := chromedp.Do(bctx,
				chromedp.Evaluate[chromedp.Void](`document.getElementById("bars").replaceChildren(); delete document.body.dataset.state; undefined`),
				tc.action,
				chromedp.WaitVisible(q(`body[data-state="done"] #bars .bar`)),
			)
			if err != nil {
				t.Fatalf("prediction on the page: %v", err)
			}
			page, err := chromedp.Run(bctx, chromedp.Poll[pageResult](`(() => {
				const cam = document.getElementById("cam");
				if (!cam.complete || !cam.naturalWidth) return null;
				const first = document.querySelector("#bars .bar");
				return {Label: first.querySelector(".label").textContent, Pct: first.querySelector(".pct").textContent,
					Curl: document.getElementById("curl").textContent, Bars: document.querySelectorAll("#bars .bar").length,
					CAMWidth: cam.naturalWidth};
			})()`, chromedp.WithPollingTimeout(30*time.Second)))
			if err != nil {
				t.Fatalf("reading the prediction on the page: %v", err)
			}
			if page.Label != want[0].Label {
				t.Errorf("top label on the page %q, cmd/predict's %q (%v)", page.Label, want[0].Label, want)
			}
			got, err := strconv.ParseFloat(strings.TrimSuffix(page.Pct, "%"), 64)
			if err != nil || math.Abs(got-100*float64(want[0].Probability)) > 0.051 {
				t.Errorf("top percentage on the page %q, cmd/predict's %.2f%%", page.Pct, 100*want[0].Probability)
			}
			if page.Bars != len(want) {
				t.Errorf("%d bars, want %d", page.Bars, len(want))
			}
			if page.CAMWidth != meta.ImageSize {
				t.Errorf("CAM overlay %d pixels wide, want the model's input side %d", page.CAMWidth, meta.ImageSize)
			}
			if !strings.Contains(page.Curl, tc.curlArg) || !strings.Contains(page.Curl, ts.URL+"/v1/models/m:cam?alpha=1") {
				t.Errorf("curl command %q lacks %s or the request's URL", page.Curl, tc.curlArg)
			}
		})
	}

	slider := func(v int) chromedp.Action[string] {
		return chromedp.Evaluate[string](`(() => { const s = document.getElementById("opacity"); s.value = "` + strconv.Itoa(v) + `";
			s.dispatchEvent(new Event("input")); return getComputedStyle(document.getElementById("cam")).opacity; })()`)
	}
	if opacity, err := chromedp.Run(bctx, slider(20)); err != nil || opacity != "0.2" {
		t.Errorf("CAM opacity %q (%v) after moving the slider to 20, want 0.2", opacity, err)
	}

	if *screenshot != "" {
		if _, err := chromedp.Run(bctx, slider(50)); err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		t.Logf("wrote %s", *screenshot)
	}
}

// pageResult is what TestPageInBrowser reads from the page after a prediction.
type pageResult struct {
	Label, Pct, Curl string
	Bars, CAMWidth   int
}

// readMetadata is the model's assets/metadata.json.
func readMetadata(t *testing.T, dir string) exported.Metadata {
	t.Helper()
	m, err := exported.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	return m.Metadata()
}

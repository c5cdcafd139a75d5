package synth

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
)

// ContactSheet writes a PNG grid of the benchmark's first classes species (one per row; neighbouring
// rows differ in one attribute) × their first samples images, as Generate draws them, before JPEG
// encoding.
func ContactSheet(w io.Writer, cfg Config, classes, samples int) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	if classes < 1 || classes > cfg.Classes || samples < 1 || samples > cfg.PerClass {
		return fmt.Errorf("synth: contact sheet of %d classes × %d samples does not fit a benchmark of %d × %d", classes, samples, cfg.Classes, cfg.PerClass)
	}
	const gap = 3
	step := cfg.Size + gap
	sheet := image.NewRGBA(image.Rect(0, 0, samples*step+gap, classes*step+gap))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.RGBA{255, 255, 255, 255}), image.Point{}, draw.Src)
	species, _ := Classes(cfg)
	for k, sp := range species[:classes] {
		for j := range samples {
			s := render(sp, cfg.Size, cfg.Difficulty, cfg.Seed, j)
			at := image.Pt(gap+j*step, gap+k*step)
			draw.Draw(sheet, s.img.Bounds().Add(at), s.img, image.Point{}, draw.Src)
		}
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(w, sheet); err != nil {
		return fmt.Errorf("synth: contact sheet: %w", err)
	}
	return nil
}

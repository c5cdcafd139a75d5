// Package synth generates the synthetic fine-grained benchmark: images of one stylised bird (body,
// head, wing, tail, eye, beak) whose classes ("species") differ only in small part attributes —
// wing-bar colour, eye ring, crest, tail pattern, beak shape — combined as CUB-200-2011's
// attribute-defined species are, under large variation within each class: position, scale,
// rotation, mirroring, body colour, lighting, cluttered backgrounds whose distractor shapes reuse
// the part colours, and partial occlusion. A model that looks at global colour or shape fails on it;
// one that attends to the right small part succeeds.
//
// Species are taken in a Gray-code order of the attribute combinations, so neighbouring classes
// differ in exactly one attribute and a benchmark of a few classes varies only the first attributes
// (wing bar, then eye ring, then crest, tail and beak). A benchmark holds Config.Classes consecutive
// species from Config.FirstClass (0 by default), and a species' images depend on the species and the
// seed, not on its class id: benchmarks with disjoint ranges share no species (pretrain on one,
// fine-tune on the other), and one whose range lies inside another's holds the same images of it.
//
// Generate writes a benchmark to disk in the CUB-200-2011 layout (so package datasets reads it as
// format "synthetic" or "cub"), JPEG encoded, in parallel; the files depend only on the Config (not
// on the number of workers) and are byte-identical for the same seed, Go version and architecture.
// ContactSheet draws a grid of classes × samples for a quick look.
package synth

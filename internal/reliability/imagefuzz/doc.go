// Package imagefuzz holds FuzzImagePath, the fuzz target of the input pipeline's whole per-image path
// (header check, pixel limit, decoding, the evaluation and training transforms). It is a package of
// its own, apart from the end-to-end tests of package reliability, so that its fuzzing workers do not
// load TensorFlow. It has no code besides the test.
package imagefuzz

// Package testmodel exports the small SavedModel that the commands' tests serve and classify: an
// SA-ResNet18 at an eighth of the width with 4 classes (labels w, x, y, z), 32-pixel crops of images
// resized to 36, random weights. A test package keeps one Model, exports it on first use and removes it
// in TestMain.
package testmodel

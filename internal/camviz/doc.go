// Package camviz draws class activation maps over the images they explain: at the image's own
// resolution and over the whole image, with the map carried back through the evaluation transforms
// (Resize of the shorter side, then CenterCrop) that made the model's input, a label and a colour
// scale. It knows nothing of TensorFlow: a map is a grid of numbers and an image is an image.Image.
package camviz

// Package pipeline feeds images to training and evaluation: dataset indexes (CUB-200-2011, Stanford
// Dogs, Stanford Cars, class folders, the synthetic fine-grained benchmark), decoding, torchvision-style
// augmentation, and a small tf.data-like dataset API (Map, Shuffle, Batch, Prefetch, Repeat, Take).
//
// Batches are float32 NHWC RGB in 0..255; normalisation with ImageNet mean/std happens in exactly one
// place, the model graph (nets), so that training, evaluation and exported SavedModels agree. The
// package uses no TensorFlow types.
package pipeline

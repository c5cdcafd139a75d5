// Package exported writes trained models as TensorFlow SavedModels and serves them from Go.
//
// A SavedModel written here is a TF1-style graph: saved_model.pb holds one MetaGraphDef (tag "serve")
// built from the binding's protobuf packages, variables/ is a SaveV2 checkpoint that the MetaGraphDef's
// SaverDef restores, and assets/ holds labels.txt and metadata.json. TensorFlow's C++ loader
// (tf.LoadSavedModel, tfgo) and Python's tf.saved_model.load both read it.
//
// Signatures:
//
//   - serving_default: images float32 [N, S, S, 3], RGB in 0..255 (normalisation is in the graph) ->
//     logits [N, K], probabilities [N, K], cam [N, h, w, K].
//   - predict_jpeg: image_bytes string [N], encoded JPEG, PNG, GIF or BMP -> the same outputs. The
//     graph decodes, resizes the shorter side and centre-crops each image as the evaluation pipeline
//     does, in a functional While loop over the batch.
//
// Load opens a model for services; Model.Predict is safe for concurrent use and Batcher groups
// concurrent single-image requests into batches.
package exported

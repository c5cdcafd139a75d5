// Package exported writes trained models as TensorFlow SavedModels and serves them from Go.
//
// Export builds a serving graph (nets.Build under two inference heads that share the variables), fills
// it with weights (FromCheckpoint, or any Weights function such as nets.ImportTorchvision) and Write
// saves it: saved_model.pb holds one MetaGraphDef (tag "serve") built from the binding's protobuf
// packages, whose SaverDef points at the graph's save/restore ops; variables/ is the SaveV2 checkpoint
// those ops read; assets/ holds labels.txt (class names in class-id order) and metadata.json (variant,
// dataset, input and resize sizes, network and training configuration, metrics). TensorFlow's C++
// loader (tf.LoadSavedModel, tfgo) and Python's tf.saved_model.load both read it, and
// saved_model_cli show --all lists its signatures:
//
//   - serving_default: images float32 [N, S, S, 3], RGB in 0..255 (normalisation is in the graph) ->
//     logits [N, K], probabilities [N, K], cam [N, h, w, K].
//   - predict_jpeg: image_bytes string [N], encoded JPEG, PNG or single-frame GIF -> the same
//     outputs. Each image is decoded (libjpeg's accurate integer IDCT, as PIL), resized so that its
//     shorter side is the resize size (torchvision's Resize rounding) with PIL's antialiased bilinear
//     filter in two 8-bit passes, and centre-cropped (torchvision's CenterCrop offsets), as the
//     evaluation pipeline does. The Go binding cannot build control flow, so the per-image loop is a
//     functional While op whose body and condition are FunctionDefs made with the C API's
//     TF_GraphToFunction and imported into the graph; the loop runs iterations in parallel.
//     tfgo's image package is not used here: it rescales each image by its own minimum and
//     maximum, crops with truncated offsets and resizes without antialiasing, so none of its steps
//     gives these pixels; the graph keeps DecodeJpeg (accurate IDCT) and ScaleAndTranslate.
//
// Measured against pipeline.EvalEncoded (TestDecodeMatchesEvalPipeline), the in-graph preprocessing
// gives the same pixels for PNG inputs up to an occasional rounding step of 1 (mean |diff| <= 0.01 on
// 0..255) and, for JPEG, within 3 levels (mean <= 0.05) because TensorFlow's libjpeg-turbo and the
// pipeline's Go decoder differ slightly; on the test model the probabilities of predict_jpeg and of
// serving_default fed by the pipeline agree within 1e-4. Animated GIFs are refused.
//
// WriteOptimized (Spec.Optimize, cmd/export -optimize) writes the same signatures as an inference-only
// SavedModel: the weights frozen into constants, each batch norm after a convolution folded into its
// weights and a bias, and nothing the signatures do not reach. It is a rewrite of the GraphDef, so it
// holds for every variant without help from nets; its outputs equal the plain model's within 1e-5
// relative (TestExportOptimized), and Load, cmd/serve and Python's tf.saved_model.load open it.
//
// Load opens a model for services: Model.Predict (float32 images), PredictTensor and PredictEncoded
// are safe for concurrent use and report bad inputs (wrong shape or dtype, data that is not an
// image, an image that cannot be decoded, by its index) as errors, never panics. Batcher groups
// concurrent requests into batches.
package exported

// Package ops holds the building blocks of the models as TensorFlow graph builders over the Go bindings'
// op wrappers and tfgo: graphs with named resource variables shared between heads (training and
// inference), layers with PyTorch semantics (Conv, BatchNorm, MaxPool, Dense, Dropout, cross-entropy),
// attention gates, checkpoints in TensorFlow's tensor-bundle format, session settings, and traced
// session runs (RunWithStats: TensorFlow's per-node step statistics, which the bindings' Session.Run
// cannot return). It knows nothing of models; nets composes these into ResNets.
//
// # What tfgo does here, and what it does not
//
// Op naming is not tfgo's. tg.NewScope numbers scopes with one counter for the whole process
// (input_N), so a graph's op names, and its GraphDef, would depend on what the process built before it.
// Scope.Op therefore gives each op a scope unique within its graph (op, op_1, ...), so op.X(s.Op(), ...)
// needs no bookkeeping and a model's GraphDef is the same in every process. Variables are named by their paths
// (layer3/2/ca/fc1/kernel), which checkpoints, weight import and SavedModel signatures use.
//
// Element-wise arithmetic that reads left to right is written as tfgo Tensor chains (Scope.Tensor): the
// gates' x·σ(z) and x·(1+σ(z)), the composed batch norm (x−m)·rsqrt(v+ε)·γ+β, the residual additions,
// the dense layers' x·W and dropout's scaling. A chain modifies its Tensor in place (Clone one that is
// used twice) and panics on a construction error; Catch is where those panics become errors, and every
// model build goes through it.
//
// tfgo is not the natural tool for the rest, which stays on the bindings' op wrappers:
//   - its Tensor has Add, Mul, MatMul, Pow and Cast only; subtraction, division, Rsqrt, sigmoid,
//     reductions and BiasAdd are plain ops (its Sqrt is Pow(x, 0.5), which rounds differently from
//     TensorFlow's Rsqrt, so the batch norm keeps Rsqrt);
//   - it has no layers, no variables and no initialisers with seeds: Conv, BatchNorm, Dense and the
//     resource variables with their checkpoint names are this package's;
//   - its image package does not give the pixels that the served preprocessing needs: image.NewImage and
//     the Read functions rescale every image to [0, 1] by its own minimum and maximum, the Read functions
//     read files and decode JPEG with the fast IDCT, CentralCrop truncates where torchvision rounds, and
//     its resizes are not antialiased. exported's predict_jpeg graph therefore keeps DecodeJpeg with the
//     accurate IDCT and ScaleAndTranslate with antialiasing (PIL's resampling).
//
// # Gradients through the C API
//
// Training in Go builds the backward pass with TF_AddGradientsWithPrefix, which uses TensorFlow's C++
// gradient registry (tensorflow/cc/gradients). Only ops registered there can be differentiated.
// TestGradientRegistry checks this list against the TensorFlow build in use (2.21):
//
//	op                                  C++ gradient   how the project uses it
//	Conv2D                              yes            every convolution; explicit Pad + VALID for
//	                                                   stride 2 (the gradient ignores explicit paddings)
//	FusedBatchNormV3                    yes, float32   BatchNorm (training and inference)
//	FusedBatchNorm (V1)                 no             not used
//	Relu, Sigmoid, Softmax, LogSoftmax  yes
//	MaxPool                             yes            stem pool, after PadV2 with -inf
//	Mean, Max, Sum                      yes            pooling, channel/spatial descriptors
//	Pad, PadV2                          yes
//	ConcatV2                            yes            spatial-attention descriptors (op.ConcatV2)
//	Concat (V1, the binding's op.Concat) no            not used: use op.ConcatV2
//	MatMul, BiasAdd                     yes            classifiers, channel-attention MLP
//	SoftmaxCrossEntropyWithLogits       yes, float32   loss, after OneHot (label smoothing)
//	SparseSoftmaxCrossEntropyWithLogits no             replaced by OneHot + the dense op
//	Mul, AddV2, Sub, SquaredDifference,
//	Rsqrt, Reshape, ExpandDims, Cast    yes            gates, composed batch norm
//	StopGradient                        no-gradient    stops the moving-average path of composed BN
//
// "float32" marks gradients whose C++ code builds float32 constants, so they fail for float64 graphs.
// For the float64 finite-difference check the package composes those two ops from primitives
// (BatchNormConfig.Composed, SoftmaxCrossEntropyFor), and TestFusedMatchesComposed ties the fused
// float32 forms to the composed ones.
package ops

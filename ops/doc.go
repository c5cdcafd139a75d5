// Package ops holds the building blocks of the models as TensorFlow graph builders over tfgo and the Go
// bindings: graphs with named resource variables shared between heads (training and inference), layers
// with PyTorch semantics (Conv2D, BatchNorm, MaxPool, Dense, Dropout, cross-entropy), attention gates,
// checkpoints in TensorFlow's tensor-bundle format, and session settings. It knows nothing of models;
// nets composes these into ResNets.
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

// Package nets assembles the models of the paper from the layer and gate builders of package ops:
// torchvision's ResNet (v1.5: stride on the 3×3 convolution; BN eps 1e-5; depths 18, 34, 50, 101) with
// one of five heads or gates chosen by Config.Attention. Import reads torchvision-named weights
// (package weights: .pth, .bin, .safetensors) into it, strictly by default, and ExportTorchvision writes
// a model's weights back under torchvision's names. The blocks are written as torchvision's
// models/resnet.py writes them (conv3x3, conv1x1, expansion), so that the two read side by side;
// TestGoldenOutputs holds every variant's graph to outputs recorded in testdata/golden.
//
// Variants:
//   - none: global average pool → fully connected classifier.
//   - fcn: the classifier is a 1×1 convolution over the last feature map giving K class activation maps;
//     the logits are their spatial mean (the same linear map as none, so torchvision's fc loads into it).
//   - ca, sa: CBAM's channel or spatial gate in every block of the chosen stages, after the block's last
//     BN and before the residual addition (ops.ChannelAttention, ops.SpatialAttention).
//   - csca: both, fused before the sigmoid into one C×H×W map (parallel) or CBAM's channel-then-spatial
//     order (sequential) (ops.FusionAttention).
//
// Gates start near identity: the last layer of every gate starts with zero weights and a logit of +L
// (plain form, F·σ(z)) or −L (residual form, F·(1+σ(z))), L = Config.GateInitLogit (model.gate_init_logit,
// 6 by default: σ(6) = 0.99753, 1+σ(−6) = 1.00247), so a pretrained backbone starts from its own function
// with each gated residual branch scaled by that constant (see ops.GateConfig); the tests check the
// logits of a gated model against torchvision's with exactly that scaling.
//
// Every variant also returns class activation maps, Outputs.CAM [N, h, w, K]: for GAP→FC models
// CAM_k = Σ_c w_ck F_c + b_k, which makes the spatial mean of the maps equal to the logits, as for fcn.
//
// Variables carry torchvision's structure as readable paths (conv1/kernel, bn1/gamma,
// layer2/0/downsample/0/kernel, layer3/2/ca/fc1/kernel, fc/kernel), so checkpoints, weight import and
// optimiser parameter groups work by name. ImportTorchvision maps conv1.weight, bn1.running_var,
// layer1.0.conv2.weight, fc.weight, ... onto them (OIHW → HWIO, [out, in] → [in, out]).
//
// Stats counts parameters and the multiply-adds of convolutions and dense layers per image (torchvision's
// "GFLOPS": ResNet-50 at 224 is 4.09 G); cmd/variants prints them beside CPU timings of Workload.
package nets

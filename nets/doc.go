// Package nets assembles the models of the paper from the layer and gate builders of package ops:
// torchvision's ResNet (v1.5; depths 18, 34, 50, 101) with one of five heads or gates chosen by
// Config.Attention (none, fcn, ca, sa, csca), and imports torchvision's pretrained weights from a
// safetensors file by name.
//
// Variables carry torchvision's structure as readable paths (conv1/kernel, bn1/gamma,
// layer2/0/downsample/0/kernel, layer3/2/ca/fc1/kernel, fc/kernel), so checkpoints, weight import and
// optimiser parameter groups work by name.
package nets

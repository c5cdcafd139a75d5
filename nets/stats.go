package nets

import "errors"

// Stats returns the model's trainable parameter count and its cost per forward pass of one
// imageSize×imageSize image in FLOPs, counting one multiply-add of a convolution or dense layer as one
// FLOP (torchvision's convention: ResNet-50 at 224 is 4.1 GFLOPs).
func Stats(cfg Config, imageSize int) (params, flops int64, err error) {
	return 0, 0, errors.New("nets.Stats: not implemented yet")
}

// Package weights reads and writes the files pretrained weights come in, in pure Go: PyTorch's
// torch.save files (.pth, .bin; the zip format of torch >= 1.6 and the legacy format before it) through
// the pickle machine of github.com/nlpodyssey/gopickle, and safetensors files. Read gives a File: the
// state dict's tensors by name as little-endian row-major bytes with a dtype (F32, F16, BF16, F64, I64,
// ...), after unwrapping a checkpoint (a dict holding the state dict under "state_dict", "model" or
// "model_state_dict") and stripping the "module." prefix of DistributedDataParallel, with the file's
// sha256. WriteSafetensors writes tensors back out.
//
// The package knows nothing about graphs or models (it does not import TensorFlow): mapping names onto a
// network's variables is package nets' job, and naming, caching and downloading known files is
// package weights/hub's. A malformed or truncated file is an error naming the file and what was wrong,
// never a panic, and no size read from a file is allocated before it is checked against the file.
package weights

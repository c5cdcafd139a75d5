// Package tfsetup answers, from the files alone, how an installed TensorFlow library finds the CUDA
// libraries it opens at run time.
//
// TensorFlow's CUDA build links none of CUDA: it dlopen()s libcudart, cuBLAS, cuDNN and the rest on first
// use, and the dynamic loader searches the directories of the calling library's RUNPATH for them. A
// layout that breaks that search does not fail: TensorFlow logs a warning and runs on the CPU. This
// package reads the RUNPATH (debug/elf, no TensorFlow) so that cmd/tfinfo can say which library would
// be found where, and its tests run scripts/setup-tensorflow.sh against fake wheels to check the layout
// that script installs.
package tfsetup

// Package pyref runs the Python reference scripts that tests compare against: TensorFlow's Python API
// from the project's .venv, and Debian's torch/torchvision/scipy under /usr/bin/python3. Python is a
// test oracle only; nothing in the product imports this package.
package pyref

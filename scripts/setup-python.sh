#!/usr/bin/env bash
# Python is used for reference checks and peer benchmarks only, never by the product. This sets up:
#   .venv/            TensorFlow's Python API from the same pinned wheel as the C library (plus scipy,
#                     Pillow and TensorBoard): SavedModel loading, Keras and tf.data benchmarks, TensorBoard event reading,
#                     MAT files written by scipy.io.savemat.
#   /usr/bin/python3  Debian's torch, torchvision, scipy and PIL (python3-torchvision): the torchvision
#                     reference outputs. Installed with apt-get when run as root.
# Idempotent; FINEGRAIN_SKIP_PYTHON=1 skips it (tests that need Python then say so and skip).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=tensorflow.env
. "$here/tensorflow.env"
die() { echo "setup-python: $*" >&2; exit 1; }

if [ "${FINEGRAIN_SKIP_PYTHON:-0}" = 1 ]; then
	echo "setup-python: skipped (FINEGRAIN_SKIP_PYTHON=1)"
	exit 0
fi

venv="$root/.venv"
packages="scipy pillow tensorboard"
stamp="$venv/.finegrain-$TF_VERSION-$(echo "$packages" | sha256sum | cut -c1-8)"
if [ ! -f "$stamp" ]; then
	command -v python3 >/dev/null || die "python3 not found"
	cache=${TF_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/finegrain}
	wheel=$(ls "$cache"/"${TF_CPU_PACKAGE//-/_}-$TF_VERSION-"*.whl 2>/dev/null | head -1 || true)
	[ -n "$wheel" ] || die "no cached wheel in $cache: run 'make setup' first"
	echo "$TF_CPU_SHA256  $wheel" | sha256sum -c --status || die "checksum mismatch for $wheel"
	pyver=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
	[ "$pyver" = "$TF_WHEEL_PYTHON" ] || die "python3 is $pyver; the pinned wheel is for $TF_WHEEL_PYTHON"
	echo "setup-python: creating $venv with TensorFlow $TF_VERSION"
	rm -rf "$venv"
	python3 -m venv "$venv"
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" $packages
	touch "$stamp"
fi

if ! /usr/bin/python3 -c 'import torchvision, scipy.io, PIL' 2>/dev/null; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		echo "setup-python: installing Debian's python3-torchvision, python3-scipy, python3-pil"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >/dev/null || die "apt-get update failed"
		apt-get install -y -q --no-install-recommends python3-torchvision python3-scipy python3-pil python3-numpy >/dev/null ||
			die "apt-get install python3-torchvision failed"
	else
		echo "setup-python: /usr/bin/python3 lacks torchvision; torchvision reference tests will skip" >&2
	fi
fi
echo "setup-python: ready ($venv; /usr/bin/python3 with torchvision)"

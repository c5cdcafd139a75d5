#!/usr/bin/env bash
# Installs TensorFlow's C library and headers from TensorFlow's own release wheel on PyPI, laid out as an
# ordinary C library (PREFIX/include/tensorflow/c/..., PREFIX/lib/libtensorflow.so), so that a plain
# `go build ./...` links the Go bindings afterwards.
#
#   PREFIX   install prefix; default /usr/local as root, required otherwise
#   TF_VARIANT  cpu (default) or gpu (the CUDA-capable wheel; CUDA itself is not installed)
#   TF_FORCE=1  reinstall even if a compatible libtensorflow is found
#
# Idempotent: a libtensorflow of the pinned major.minor version that is already installed is kept.
# A failed download or a checksum mismatch stops before anything is written under PREFIX.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tensorflow.env
. "$here/tensorflow.env"

die() { echo "setup-tensorflow: $*" >&2; exit 1; }

variant=${TF_VARIANT:-cpu}
case "$variant" in
cpu) package=$TF_CPU_PACKAGE sha=$TF_CPU_SHA256 ;;
gpu) package=$TF_GPU_PACKAGE sha=$TF_GPU_SHA256 ;;
*) die "TF_VARIANT must be cpu or gpu, not '$variant'" ;;
esac

if [ -z "${PREFIX:-}" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		PREFIX=/usr/local
	else
		die "not root: set PREFIX to a directory you can write, e.g. PREFIX=\$HOME/.local make setup"
	fi
fi

want_minor=${TF_VERSION%.*}

# installed_version prints the version of the libtensorflow that the C compiler finds, or nothing.
installed_version() {
	local dir
	dir=$(mktemp -d)
	cat >"$dir/v.c" <<'EOF'
#include <stdio.h>
#include "tensorflow/c/c_api.h"
#include "tensorflow/c/eager/c_api.h"
int main(void) { printf("%s\n", TF_Version()); return 0; }
EOF
	if cc -I"$PREFIX/include" "$dir/v.c" -L"$PREFIX/lib" -Wl,-rpath,"$PREFIX/lib" -ltensorflow -o "$dir/v" 2>/dev/null; then
		"$dir/v" 2>/dev/null || true
	fi
	rm -rf "$dir"
}

if [ "${TF_FORCE:-0}" != 1 ]; then
	have=$(installed_version)
	if [ -n "$have" ] && [ "${have%.*}" = "$want_minor" ]; then
		echo "setup-tensorflow: libtensorflow $have already installed under $PREFIX (pinned $TF_VERSION): kept"
		exit 0
	fi
	[ -n "$have" ] && echo "setup-tensorflow: found libtensorflow $have, want $want_minor.x: installing $TF_VERSION"
fi

[ "$sha" != PENDING ] || die "no checksum pinned for the $variant wheel in scripts/tensorflow.env"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache=${TF_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/finegrain}
mkdir -p "$cache"

wheel=$(ls "$cache"/"${package//-/_}-$TF_VERSION-"*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ] || ! echo "$sha  $wheel" | sha256sum -c --status; then
	echo "setup-tensorflow: downloading $package==$TF_VERSION from PyPI"
	python3 -m pip download --quiet --no-deps --only-binary=:all: \
		--python-version "$TF_WHEEL_PYTHON" --platform "$TF_WHEEL_PLATFORM" \
		-d "$work/dl" "$package==$TF_VERSION" ||
		die "download of $package==$TF_VERSION failed (is PyPI reachable?)"
	wheel=$(ls "$work"/dl/*.whl | head -1)
	echo "$sha  $wheel" | sha256sum -c --status ||
		die "checksum mismatch for $(basename "$wheel"): got $(sha256sum "$wheel" | cut -d' ' -f1), want $sha"
	mv "$wheel" "$cache/" && wheel="$cache/$(basename "$wheel")"
fi

echo "setup-tensorflow: unpacking the C API from $(basename "$wheel")"
stage="$work/stage"
python3 - "$wheel" "$stage" <<'EOF'
import sys, zipfile, os
wheel, stage = sys.argv[1], sys.argv[2]
libs = {"tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2"}
headers = ("tensorflow/include/tensorflow/c/", "tensorflow/include/xla/tsl/c/")
ctstring = ("tensorflow/include/tensorflow/core/platform/ctstring", "tensorflow/include/tsl/platform/ctstring")
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.endswith("/"):
            continue
        if name in libs:
            dest = os.path.join(stage, "lib", os.path.basename(name))
        elif name.startswith(headers) or name.startswith(ctstring):
            dest = os.path.join(stage, "include", name[len("tensorflow/include/"):])
        else:
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(name) as src, open(dest, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
EOF
[ -f "$stage/lib/libtensorflow_cc.so.2" ] || die "the wheel has no libtensorflow_cc.so.2"
# The Go bindings link -ltensorflow. The wheel splits the C API between two libraries: libtensorflow_cc.so.2
# (graph, session, gradients, SavedModel, eager) and libtensorflow_framework.so.2 (TF_Status, TF_Tensor, ...).
# libtensorflow.so is therefore a GNU ld script naming both, as libc.so is; at run time the programs need
# the two .so.2 files, which ldconfig (or LD_LIBRARY_PATH) finds.
for s in TF_AddGradientsWithPrefix TF_LoadSessionFromSavedModel TFE_NewContext; do
	nm -D --defined-only "$stage/lib/libtensorflow_cc.so.2" | grep -c " T $s" >/dev/null ||
		die "libtensorflow_cc.so.2 in the wheel does not export $s"
done
nm -D --defined-only "$stage/lib/libtensorflow_framework.so.2" | grep -c ' T TF_NewStatus' >/dev/null ||
	die "libtensorflow_framework.so.2 in the wheel does not export TF_NewStatus"
echo "INPUT($PREFIX/lib/libtensorflow_cc.so.2 $PREFIX/lib/libtensorflow_framework.so.2)" >"$stage/lib/libtensorflow.so"
ln -s libtensorflow_cc.so.2 "$stage/lib/libtensorflow.so.2"
ln -s libtensorflow_framework.so.2 "$stage/lib/libtensorflow_framework.so"
chmod 0755 "$stage"/lib/*.so.2

# Install: each file is copied under a temporary name in its final directory, then renamed over.
mkdir -p "$PREFIX/lib" "$PREFIX/include" || die "cannot create $PREFIX/lib and $PREFIX/include"
(cd "$stage" && find . \( -type f -o -type l \) | sort) | while read -r f; do
	dest="$PREFIX/${f#./}"
	mkdir -p "$(dirname "$dest")"
	cp -P "$stage/$f" "$dest.tmp.$$"
	mv -f "$dest.tmp.$$" "$dest"
done
echo "$TF_VERSION $variant" >"$PREFIX/lib/libtensorflow.finegrain-version"

if [ "$PREFIX" = /usr/local ] || [ "$PREFIX" = /usr ]; then
	ldconfig 2>&1 | grep -v "is not an ELF file" >&2 || true
else
	cat <<EOF
setup-tensorflow: installed under $PREFIX. Add to your shell:
  export LIBRARY_PATH=$PREFIX/lib:\${LIBRARY_PATH:-}
  export LD_LIBRARY_PATH=$PREFIX/lib:\${LD_LIBRARY_PATH:-}
  export CPATH=$PREFIX/include:\${CPATH:-}
EOF
fi
have=$(installed_version)
[ "${have%.*}" = "$want_minor" ] || die "installed, but a test program reports version '$have'"
echo "setup-tensorflow: libtensorflow $have ($variant) ready under $PREFIX"

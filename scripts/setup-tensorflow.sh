#!/usr/bin/env bash
# Installs TensorFlow's C library and headers from TensorFlow's own release wheel on PyPI, laid out as an
# ordinary C library (PREFIX/include/tensorflow/c/..., PREFIX/lib/libtensorflow.so), so that a plain
# `go build ./...` links the Go bindings afterwards.
#
#   PREFIX   install prefix; default /usr/local as root, required otherwise
#   TF_VARIANT  cpu (default) or gpu: the CUDA build, plus the CUDA runtime wheels it needs
#               (scripts/tensorflow-cuda.env) under PREFIX/nvidia; only the NVIDIA driver is left out
#   TF_FORCE=1  reinstall even if a compatible libtensorflow is found
#   TF_WHEEL_DIR  offline: take every wheel from this directory (never download, never touch the cache);
#                 the sha256 pins are checked all the same
#   TF_PIN_DIR    read tensorflow.env and tensorflow-cuda.env from this directory instead of scripts/
#                 (the layout test's fake wheels have pins of their own)
#
# Idempotent: a libtensorflow of the pinned major.minor version that is already installed is kept (for
# gpu: only a gpu install with the pinned CUDA wheels). A failed download or a checksum mismatch stops
# before anything is written under PREFIX.
#
# Why the CUDA libraries need no environment variable: the CUDA build's libtensorflow_framework.so.2 and
# libtensorflow_cc.so.2 carry RUNPATH entries $ORIGIN/../nvidia/<package>/lib (readelf -d), written for
# pip's site-packages/{tensorflow,nvidia} layout. PREFIX/lib and PREFIX/nvidia reproduce that layout, so
# the wheel's own RUNPATH finds them: nothing is patched (no patchelf) and nothing system-wide is
# written (an ld.so.conf.d entry would need root and make one PREFIX's CUDA libraries every program's,
# which side-by-side installs cannot share).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pins=${TF_PIN_DIR:-$here}
# shellcheck source=tensorflow.env
. "$pins/tensorflow.env"

die() { echo "setup-tensorflow: $*" >&2; exit 1; }

variant=${TF_VARIANT:-cpu}
case "$variant" in
cpu) package=$TF_CPU_PACKAGE sha=$TF_CPU_SHA256 ;;
gpu)
	package=$TF_GPU_PACKAGE sha=$TF_GPU_SHA256
	[ -f "$pins/tensorflow-cuda.env" ] || die "no $pins/tensorflow-cuda.env: the CUDA wheels are not pinned"
	# shellcheck source=tensorflow-cuda.env
	. "$pins/tensorflow-cuda.env"
	;;
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

# installed_version prints the version of the libtensorflow installed under PREFIX, or nothing.
installed_version() {
	local dir
	# Without this, the compiler's default search path would find another install (e.g. /usr/local's).
	[ -e "$PREFIX/lib/libtensorflow.so" ] || return 0
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

# cuda_manifest prints the pinned CUDA wheels, one "name version sha256" a line: the record of a gpu
# install (PREFIX/nvidia/finegrain-cuda-wheels) that tells a later run whether they are current.
cuda_manifest() {
	echo "$TF_CUDA_WHEELS" | awk 'NF { print $1, $2, $3 }'
}

# installed_is_current reports whether PREFIX already holds what this variant needs besides a
# libtensorflow of the right version: nothing for cpu (any build will do, as before); for gpu, the gpu
# build and exactly the pinned CUDA wheels.
installed_is_current() {
	[ "$variant" = gpu ] || return 0
	[ "$(cut -d' ' -f2 "$PREFIX/lib/libtensorflow.finegrain-version" 2>/dev/null)" = gpu ] || return 1
	[ "$(cat "$PREFIX/nvidia/finegrain-cuda-wheels" 2>/dev/null)" = "$(cuda_manifest)" ]
}

if [ "${TF_FORCE:-0}" != 1 ]; then
	have=$(installed_version)
	if [ -n "$have" ] && [ "${have%.*}" = "$want_minor" ] && installed_is_current; then
		echo "setup-tensorflow: libtensorflow $have already installed under $PREFIX (pinned $TF_VERSION): kept"
		exit 0
	fi
	[ -n "$have" ] && echo "setup-tensorflow: found libtensorflow $have, want $want_minor.x ($variant): installing $TF_VERSION"
fi

[ "$sha" != PENDING ] || die "no checksum pinned for the $variant wheel in scripts/tensorflow.env"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${TF_WHEEL_DIR:-}" ]; then
	cache=${TF_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/finegrain}
	mkdir -p "$cache"
fi

# fetch_wheel PACKAGE VERSION SHA256 PLATFORM... prints the path of the package's wheel, its sha256
# checked: from TF_WHEEL_DIR when set (offline), else from the cache, else downloaded from PyPI into it.
fetch_wheel() {
	local pkg=$1 version=$2 want=$3 wheel platform
	shift 3
	local glob="${pkg//-/_}-$version-*.whl"
	if [ -n "${TF_WHEEL_DIR:-}" ]; then
		wheel=$(ls "$TF_WHEEL_DIR"/$glob 2>/dev/null | head -1 || true)
		[ -n "$wheel" ] || die "no $pkg $version wheel ($glob) in TF_WHEEL_DIR=$TF_WHEEL_DIR"
		echo "$want  $wheel" | sha256sum -c --status ||
			die "checksum mismatch for $wheel: got $(sha256sum "$wheel" | cut -d' ' -f1), want $want"
		echo "$wheel"
		return
	fi
	wheel=$(ls "$cache"/$glob 2>/dev/null | head -1 || true)
	if [ -z "$wheel" ] || ! echo "$want  $wheel" | sha256sum -c --status; then
		echo "setup-tensorflow: downloading $pkg==$version from PyPI" >&2
		local args=()
		for platform in "$@"; do args+=(--platform "$platform"); done
		python3 -m pip download --quiet --no-deps --only-binary=:all: \
			--python-version "$TF_WHEEL_PYTHON" "${args[@]}" \
			-d "$work/dl-$pkg" "$pkg==$version" >&2 ||
			die "download of $pkg==$version failed (is PyPI reachable?)"
		wheel=$(ls "$work/dl-$pkg"/*.whl | head -1)
		echo "$want  $wheel" | sha256sum -c --status ||
			die "checksum mismatch for $(basename "$wheel"): got $(sha256sum "$wheel" | cut -d' ' -f1), want $want"
		mv "$wheel" "$cache/" && wheel="$cache/$(basename "$wheel")"
	fi
	echo "$wheel"
}

wheel=$(fetch_wheel "$package" "$TF_VERSION" "$sha" "$TF_WHEEL_PLATFORM")

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

if [ "$variant" = gpu ]; then
	# The pins must satisfy the wheel's own `and-cuda` requirements, each of which must be pinned.
	python3 - "$wheel" "$TF_CUDA_WHEELS" <<'EOF' || die "the CUDA pins in tensorflow-cuda.env do not match $(basename "$wheel")"
import re, sys, zipfile
wheel, pinned = sys.argv[1], {}
for line in sys.argv[2].splitlines():
    if line.strip():
        name, version, _ = line.split()
        pinned[name] = version
def key(v):
    return tuple(int(x) for x in re.findall(r"\d+", v))
with zipfile.ZipFile(wheel) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    text = z.read(meta).decode()
ok, required = True, set()
for line in text.splitlines():
    m = re.match(r'Requires-Dist: ([A-Za-z0-9_.-]+)[ (]*([^;)]*)\)?\s*;\s*extra == "and-cuda"', line)
    if not m:
        continue
    name, spec = m.group(1).lower().replace("_", "-"), m.group(2).strip()
    required.add(name)
    if name not in pinned:
        print(f"setup-tensorflow: the and-cuda extra requires {name} {spec}, which is not pinned", file=sys.stderr)
        ok = False
        continue
    v = key(pinned[name])
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        op, bound = re.match(r"(<=|>=|==|<|>|!=)\s*(\S+)", clause).groups()
        b = key(bound)
        if not {"<": v < b, "<=": v <= b, ">": v > b, ">=": v >= b, "==": v == b, "!=": v != b}[op]:
            print(f"setup-tensorflow: pinned {name} {pinned[name]} is outside the and-cuda requirement {spec}", file=sys.stderr)
            ok = False
if not required:
    print(f"setup-tensorflow: {meta} has no and-cuda requirements", file=sys.stderr)
    ok = False
for name in sorted(set(pinned) - required):
    print(f"setup-tensorflow: {name} is pinned but the and-cuda extra does not require it", file=sys.stderr)
    ok = False
sys.exit(0 if ok else 1)
EOF
	cuda_wheels=()
	while read -r name version want; do
		cuda_wheels+=("$(fetch_wheel "$name" "$version" "$want" $TF_CUDA_WHEEL_PLATFORMS)")
	done < <(cuda_manifest)
	echo "setup-tensorflow: unpacking the CUDA runtime from ${#cuda_wheels[@]} nvidia wheels"
	# Their libraries, tools (ptxas) and libdevice, under PREFIX/nvidia/<package>/ as in site-packages;
	# the headers and the Python package files are left out.
	python3 - "$stage" "${cuda_wheels[@]}" <<'EOF'
import os, re, sys, zipfile
stage, wheels = sys.argv[1], sys.argv[2:]
keep = re.compile(r"^nvidia/[^/]+/(lib|lib64|bin|nvvm)/")
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            name = info.filename
            if name.endswith("/") or not keep.match(name) or os.path.basename(name) == "__init__.py":
                continue
            dest = os.path.join(stage, name)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with z.open(info) as src, open(dest, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(dest, 0o755 if mode & 0o111 or ".so" in name else 0o644)
EOF
	cuda_manifest >"$stage/nvidia/finegrain-cuda-wheels"
	# Every library TensorFlow opens must be reachable through the TensorFlow libraries' own RUNPATH, with
	# $ORIGIN their directory: checked here, in the staged copy of the final layout.
	runpath=$(for l in "$stage"/lib/libtensorflow_framework.so.2 "$stage"/lib/libtensorflow_cc.so.2; do
		readelf -d "$l" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p' | tr ':' '\n'
	done | awk '!seen[$0]++')
	[ -n "$runpath" ] || die "the CUDA build's libraries in $(basename "$wheel") have no RUNPATH"
	for lib in $TF_CUDA_LIBS; do
		found=
		while read -r dir; do
			if [ -f "${dir//\$ORIGIN/$stage/lib}/$lib" ]; then found=${dir//\$ORIGIN/PREFIX/lib}; break; fi
		done <<<"$runpath"
		[ -n "$found" ] || die "$lib is on no RUNPATH directory of the CUDA build once installed (a wheel missing from tensorflow-cuda.env?)"
		echo "setup-tensorflow: $lib found through RUNPATH $found"
	done
fi

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
	if [ "$variant" = gpu ]; then
		cat <<EOF
  or, to build against this install beside another one (no LD_LIBRARY_PATH: the binary records the path):
  export CGO_CFLAGS=-I$PREFIX/include CGO_LDFLAGS="-L$PREFIX/lib -Wl,-rpath,$PREFIX/lib"
EOF
	fi
fi
have=$(installed_version)
[ "${have%.*}" = "$want_minor" ] || die "installed, but a test program reports version '$have'"
echo "setup-tensorflow: libtensorflow $have ($variant) ready under $PREFIX"

#!/usr/bin/env bash
# JPEG decoding uses libjpeg-turbo through cgo (Debian's libturbojpeg0-dev): the library PIL and
# TensorFlow decode with, about four times faster here than Go's image/jpeg. Installs it when missing
# (root with apt-get); otherwise says how to get it, or how to build without it (-tags noturbojpeg).
set -euo pipefail
if echo '#include <turbojpeg.h>
int main(void){return tjInitDecompress()==0;}' | cc -x c - -o /dev/null -lturbojpeg 2>/dev/null; then
	exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
	echo "setup-jpeg: installing Debian's libturbojpeg0-dev"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || { echo "setup-jpeg: apt-get update failed" >&2; exit 1; }
	apt-get install -y -q --no-install-recommends libturbojpeg0-dev >/dev/null ||
		{ echo "setup-jpeg: apt-get install libturbojpeg0-dev failed" >&2; exit 1; }
	exit 0
fi
cat >&2 <<'MSG'
setup-jpeg: libturbojpeg (headers and library) not found and not root.
  Install it (Debian/Ubuntu: sudo apt-get install libturbojpeg0-dev), or build and test with
  Go's image/jpeg instead: go build -tags noturbojpeg ./...  (GOFLAGS=-tags=noturbojpeg make test)
MSG
exit 1

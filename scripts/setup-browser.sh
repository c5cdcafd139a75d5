#!/usr/bin/env bash
# Installs Debian's chromium, which cmd/serve's browser test drives headless (make test runs this).
# Idempotent: when a chromium binary is already on PATH it only says so. As root it runs apt-get
# directly; otherwise through sudo when sudo exists, else it fails naming what to install.
set -euo pipefail

for b in chromium chromium-browser google-chrome google-chrome-stable; do
	if command -v "$b" >/dev/null 2>&1; then
		echo "setup-browser: $b is installed ($(command -v "$b"))"
		exit 0
	fi
done

if [ "$(id -u)" -eq 0 ]; then
	as_root=()
elif command -v sudo >/dev/null 2>&1; then
	as_root=(sudo)
else
	echo "setup-browser: chromium is missing and this user cannot install packages: run 'apt-get install -y chromium' as root" >&2
	exit 1
fi

echo "setup-browser: installing chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get install -y --no-install-recommends chromium; then
	# The package lists may be missing or stale (a fresh container): refresh them once and retry.
	"${as_root[@]}" apt-get update
	"${as_root[@]}" apt-get install -y --no-install-recommends chromium
fi
command -v chromium >/dev/null 2>&1 || {
	echo "setup-browser: apt-get finished but no chromium is on PATH" >&2
	exit 1
}
echo "setup-browser: $(chromium --version 2>/dev/null || echo chromium installed)"

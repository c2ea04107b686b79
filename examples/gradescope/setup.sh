#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image (Ubuntu): it installs one
# pinned `lab` binary. The binary is downloaded from LAB_URL and installed only if its SHA-256
# is LAB_SHA256, so every submission is graded by the same `lab`. Set both below (or in the
# environment); a static build (x86_64-unknown-linux-musl) runs on every Ubuntu image.
set -euo pipefail

LAB_URL="${LAB_URL:-}"       # e.g. https://example.edu/courselab/lab-0.1.0-x86_64-unknown-linux-musl
LAB_SHA256="${LAB_SHA256:-}" # sha256sum of that file
PREFIX="${LAB_PREFIX:-/usr/local/bin}"

if [ -z "$LAB_URL" ] || [ -z "$LAB_SHA256" ]; then
    echo "setup.sh: set LAB_URL and LAB_SHA256 at the top of setup.sh to the lab release binary and its SHA-256" >&2
    exit 2
fi
if ! command -v curl >/dev/null; then
    apt-get update
    apt-get install -y --no-install-recommends curl ca-certificates
fi

download="$(mktemp)"
trap 'rm -f "$download"' EXIT
curl --fail --silent --show-error --location --retry 3 --output "$download" "$LAB_URL"
actual="$(sha256sum "$download" | cut -d' ' -f1)"
if [ "$actual" != "$LAB_SHA256" ]; then
    echo "setup.sh: $LAB_URL has SHA-256 $actual, not the pinned $LAB_SHA256; nothing was installed (check the URL, or pin the new build's sum)" >&2
    exit 1
fi
mkdir -p "$PREFIX"
install -m 0755 "$download" "$PREFIX/lab"
# A binary this image cannot run fails the image build, not every submission.
"$PREFIX/lab" --version

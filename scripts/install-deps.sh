#!/usr/bin/env bash
# Everything librope's build, tests and tools need, from Debian's packages and
# PyPI only. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

PKGS=(
  build-essential cmake clang libclang-rt-14-dev   # compilers, libFuzzer/sanitizer runtimes
  pkg-config                                        # the install test builds a consumer through librope.pc
  libcjson-dev                                      # config.json reader (tools only)
  libopenblas-dev                                   # matrix products of the LLaMA runner
  libcairo2-dev fonts-dejavu-core                   # `rope plot` (PNG, SVG, PDF) and its type
  python3 python3-venv python3-dev python3-pip      # the binding
  python3-numpy python3-torch python3-pytest        # binding tests and peers in `rope bench`
  qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross  # NEON path, cross-built and emulated
  bible-kjv bible-kjv-text                          # long text for `rope lab` (scripts/get-text.sh)
  libmpfr-dev                                       # 300-bit oracle test of the accurate tables (test only)
)
missing=()
for p in "${PKGS[@]}"; do
  [ "${p:0:1}" = "#" ] && continue
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

bash scripts/get-model.sh
bash scripts/get-text.sh
bash scripts/get-gemma.sh

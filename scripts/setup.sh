#!/usr/bin/env bash
# Install llmprune's build dependencies from Debian packages (nothing else is downloaded)
# and configure + build into ./build. Safe to re-run: installed packages are skipped.
#   --sanitizers  also install clang and its sanitizer/libFuzzer runtimes (libclang-rt-14-dev
#                 holds libclang_rt.fuzzer and asan/ubsan for Debian 12's clang 14), and only
#                 install: scripts/fuzz.sh and scripts/sanitize.sh configure their own builds.
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZERS=0
if [[ "${1:-}" == "--sanitizers" ]]; then SANITIZERS=1; fi

PACKAGES=(
  g++ cmake ninja-build pkg-config
  libtorch-dev                                 # LibTorch 1.13 (CPU)
  libopenblas0-pthread libopenblas-dev         # fast fp32 GEMM (reference BLAS is ~30x slower)
  nlohmann-json3-dev libcli11-dev
  libpcre2-dev                                 # tokenizer regexes with Unicode properties
  libsentencepiece-dev                         # tokenizer.model
  libutf8proc-dev                              # NFC / NFKC normalizers
  libcpp-httplib-dev                           # llmprune serve (HTTP)
  zlib1g-dev libgtest-dev
)
if ((SANITIZERS)); then PACKAGES+=(clang-14 libclang-rt-14-dev); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ((SANITIZERS)); then exit 0; fi

BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"

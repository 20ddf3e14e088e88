#!/usr/bin/env bash
# The developer's one entry point: install what is missing, build, then demo or test.
#   ./dev.sh demo    install, build, run a short demo of the main job
#   ./dev.sh test    install, build (warnings are errors), run every test (ctest), real Xen
#                    in QEMU included (XLUA_XEN_TESTS=OFF leaves that out); then the same
#                    tests built with ASan and UBSan, and each fuzz target briefly (build-asan)
#   ./dev.sh sanitize  install, build build-asan, run its tests (labels sanitize and fuzz)
#   ./dev.sh fuzz TARGET [SECONDS]  run one fuzz target (spec/fuzz/run.sh) for SECONDS
#                    (default 600, 0: until Ctrl-C): savefile, savefile_zstd, savefile_pipe,
#                    cfg_parse, cfg_diff
#   ./dev.sh xen     install, build, run the real-Xen-in-QEMU checks (spec/xen/run.sh)
#   ./dev.sh build   install and build only
#   ./dev.sh bench [quick|xen]  the benchmark suite (spec/bench/bench.sh) on a Release build in
#                    build-release: xlua against cat+fsync, lua5.4, libxlutil (quick: small
#                    inputs, every line once); xen: xl against xlua save/restore inside QEMU
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake gcc make pkg-config lua5.4 liblua5.4-dev lua-busted lua-cjson
          libxen-dev libreadline-dev libzstd-dev libxxhash-dev)
# Only for the sanitize build and the fuzz targets: clang, and its runtimes (libFuzzer).
SANITIZE_PACKAGES=(clang libclang-rt-14-dev)
BUILD=${XLUA_BUILD_DIR:-build}
SANITIZE_BUILD=${XLUA_SANITIZE_BUILD_DIR:-$BUILD-asan}

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "dev.sh: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {
  cmake -S . -B "$BUILD" -DXLUA_WERROR=ON -DXLUA_XEN_TESTS="${XLUA_XEN_TESTS:-ON}" >/dev/null
  cmake --build "$BUILD" -j "$(nproc)"
}

# A second tree, all of it built by clang with ASan and UBSan, plus the fuzz targets.
build_sanitize() {
  CC=clang cmake -S . -B "$SANITIZE_BUILD" -DXLUA_SANITIZE=ON -DXLUA_WERROR=ON \
    -DXLUA_XEN_TESTS=OFF >/dev/null
  cmake --build "$SANITIZE_BUILD" -j "$(nproc)"
}

# busted mostly waits on its subprocesses: the fuzz targets run beside it (-j2).
test_sanitize() {
  ctest --test-dir "$SANITIZE_BUILD" -j2 --output-on-failure
}

case "${1:-}" in
  build)
    install_missing "${PACKAGES[@]}"; build ;;
  test)
    install_missing "${PACKAGES[@]}" "${SANITIZE_PACKAGES[@]}"; build; build_sanitize
    status=0
    ctest --test-dir "$BUILD" --output-on-failure || status=1
    test_sanitize || status=1
    exit $status ;;
  sanitize)
    install_missing "${PACKAGES[@]}" "${SANITIZE_PACKAGES[@]}"; build_sanitize; test_sanitize ;;
  fuzz)
    [ $# -ge 2 ] || { echo "usage: ./dev.sh fuzz TARGET [SECONDS]" >&2; exit 2; }
    install_missing "${PACKAGES[@]}" "${SANITIZE_PACKAGES[@]}"; build_sanitize
    exec spec/fuzz/run.sh "$SANITIZE_BUILD" "$2" "${3:-600}" ;;
  xen)
    install_missing "${PACKAGES[@]}"; XLUA_XEN_TESTS=ON build
    ctest --test-dir "$BUILD" -L xen --output-on-failure ;;
  bench)
    install_missing "${PACKAGES[@]}"
    RELEASE=${XLUA_RELEASE_BUILD_DIR:-$BUILD-release}
    cmake -S . -B "$RELEASE" -DCMAKE_BUILD_TYPE=Release -DXLUA_WERROR=ON \
      -DXLUA_XEN_TESTS="$([ "${2:-}" = xen ] && echo ON || echo OFF)" >/dev/null
    cmake --build "$RELEASE" -j "$(nproc)"
    if [ "${2:-}" = xen ]; then
      XLUA_BUILD_DIR=$RELEASE XLUA_XEN_NO_BUILD=1 XLUA_XEN_ONLY="${XLUA_XEN_ONLY:-bench.*}" \
        exec spec/xen/run.sh
    fi
    exec spec/bench/bench.sh "$RELEASE" "${2:-full}" ;;
  demo)
    install_missing "${PACKAGES[@]}"; build
    exec "$BUILD/bin/xlua" examples/demo.lua ;;
  *)
    echo "usage: ./dev.sh demo|test|xen|build|sanitize|bench [quick|xen]|fuzz TARGET [SECONDS]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The developer's one entry point: install what is missing, build, then demo or test.
#   ./dev.sh demo    install, build, run a short demo of the main job
#   ./dev.sh test    install, build (warnings are errors), run every test (ctest), real Xen
#                    in QEMU included (XLUA_XEN_TESTS=OFF leaves that out)
#   ./dev.sh xen     install, build, run the real-Xen-in-QEMU checks (spec/xen/run.sh)
#   ./dev.sh build   install and build only
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake gcc make pkg-config lua5.4 liblua5.4-dev lua-busted lua-cjson
          libxen-dev libreadline-dev libzstd-dev libxxhash-dev)
BUILD=${XLUA_BUILD_DIR:-build}

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
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

case "${1:-}" in
  build)
    install_missing; build ;;
  test)
    install_missing; build
    ctest --test-dir "$BUILD" --output-on-failure ;;
  xen)
    install_missing; XLUA_XEN_TESTS=ON build
    ctest --test-dir "$BUILD" -L xen --output-on-failure ;;
  demo)
    install_missing; build
    exec "$BUILD/bin/xlua" examples/demo.lua ;;
  *)
    echo "usage: ./dev.sh demo|test|xen|build" >&2; exit 2 ;;
esac

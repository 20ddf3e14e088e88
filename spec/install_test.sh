#!/usr/bin/env bash
# The installed tree is relocatable: install into one prefix, move it elsewhere (as into a dom0
# image), and bin/xlua still finds its Lua library and commands there, not in the build tree.
set -euo pipefail
build=${1:?usage: install_test.sh BUILD_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/first" >/dev/null
mkdir -p "$work/root/opt"
mv "$work/first" "$work/root/opt/xlua"
xlua="$work/root/opt/xlua/bin/xlua"

fail() { echo "install_test: $*" >&2; exit 1; }

"$xlua" --version | grep -q '^xlua ' || fail "--version does not run"
"$xlua" --help | grep -q '^  inspect ' || fail "--help lists no commands from the moved tree"
path=$("$xlua" -e 'io.write(package.path)')
case "$path" in
  "$work/root/opt/xlua/share/xlua/lua/?.lua;"*) ;;
  *) fail "package.path does not start at the moved tree: $path" ;;
esac
case "$path" in *"$build"*) fail "package.path still points into the build tree: $path" ;; esac
"$xlua" -e 'assert(require("xlua.compat").check)' || fail "the Lua library does not load"
# Its modules come precompiled from bin/xlua (bindings/precompiled.c), named after the files.
src=$("$xlua" -e 'io.write(debug.getinfo(require("xlua.cli").main, "S").source)')
[ "$src" = "@$work/root/opt/xlua/share/xlua/lua/xlua/cli.lua" ] || fail "xlua.cli is named $src"
# The C modules loaded on first use, from the moved tree's lib/xlua.
"$xlua" -e 'assert(require("xlua.xlutil").disk)' || fail "xlua.xlutil does not load"
caps="$work/capabilities"
echo control_d >"$caps"
out=$(XLUA_XEN_CAPABILITIES=$caps "$xlua" --backend libxl list 2>&1 || true)
case "$out" in *"cannot load the libxl backend"*) fail "the libxl backend does not load: $out" ;; esac
# A command from the moved tree, end to end on the sim backend.
cfg="$work/g.cfg"
printf 'name = "g"\nkernel = "/k"\nmemory = 16\n' >"$cfg"
XLUA_SIM_DIR="$work/sim" "$xlua" --backend sim create "$cfg" | grep -q '^g 1$' || fail "create failed"
XLUA_SIM_DIR="$work/sim" "$xlua" --backend sim save g "$work/g.sav" 2>/dev/null || fail "save failed"
"$xlua" verify "$work/g.sav" >/dev/null || fail "verify failed"
echo "1 passed, 0 failed"

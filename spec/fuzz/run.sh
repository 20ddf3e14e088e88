#!/usr/bin/env bash
# spec/fuzz/run.sh: the one way the fuzz targets are run, by ctest (label fuzz) and by hand.
#   run.sh BUILD seeds                       write the seed corpora into BUILD/fuzz/seeds
#   run.sh BUILD TARGET SECONDS [--scratch]  run BUILD/bin/fuzz_TARGET for SECONDS (0: until
#                                            stopped) on BUILD/fuzz/corpus/TARGET, which keeps
#                                            what it finds between runs, plus the seeds;
#                                            --scratch: on an emptied BUILD/fuzz/scratch/TARGET
# TARGET: savefile, savefile_zstd, savefile_pipe, cfg_parse, cfg_diff. A crash leaves its input
# in BUILD/fuzz/crashes/ (rerun it: BUILD/bin/fuzz_TARGET FILE) and in Base64 in the output.
# More libFuzzer options, e.g. -jobs=2: FUZZ_OPTIONS="-jobs=2 -workers=2".
set -euo pipefail
build=$(cd "${1:?usage: run.sh BUILD seeds | run.sh BUILD TARGET SECONDS [--scratch]}" && pwd)
target=${2:?usage: run.sh BUILD seeds | run.sh BUILD TARGET SECONDS [--scratch]}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
fuzz=$build/fuzz

if [ "$target" = seeds ]; then
  sim=$(mktemp -d)
  trap 'rm -rf "$sim"' EXIT
  rm -rf "$fuzz/seeds"
  mkdir -p "$fuzz/seeds/savefile" "$fuzz/seeds/savefile_pipe"
  XLUA_SIM_DIR=$sim "$build/bin/xlua" "$here/seeds.lua" "$fuzz/seeds" "$src"
  exit
fi

seconds=${3:?usage: run.sh BUILD TARGET SECONDS [--scratch]}
case $target in
  savefile|savefile_zstd) seeds=$fuzz/seeds/savefile dict=savefile.dict ;;
  savefile_pipe) seeds=$fuzz/seeds/savefile_pipe dict=savefile.dict ;;
  cfg_parse|cfg_diff) seeds=$src/spec/fixtures/cfg dict=cfg.dict ;;
  *) echo "run.sh: no fuzz target $target" >&2; exit 2 ;;
esac
[ -d "$seeds" ] || "$0" "$build" seeds
corpus=$fuzz/corpus/$target
if [ "${4:-}" = --scratch ]; then
  corpus=$fuzz/scratch/$target
  rm -rf "$corpus"
fi
mkdir -p "$corpus" "$fuzz/crashes"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}
# Every length the reader trusts is checked against the bytes first, so no input may make it
# ask for much memory: zstd's largest window (128 MiB) is the most a valid file can need.
# A failing run prints what it left in crashes/ in Base64 too: CI keeps only the log.
started=$(mktemp)
trap 'rm -f "$started"' EXIT
status=0
# shellcheck disable=SC2086
"$build/bin/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
  -malloc_limit_mb=160 -dict="$here/$dict" -artifact_prefix="$fuzz/crashes/$target-" \
  -print_final_stats=1 ${FUZZ_OPTIONS:-} "$corpus" "$seeds" || status=$?
if [ "$status" -ne 0 ]; then
  find "$fuzz/crashes" -name "$target-*" -newer "$started" | while read -r f; do
    echo "run.sh: $f in Base64 (base64 -d >FILE; $build/bin/fuzz_$target FILE):"
    base64 -w0 "$f"
    echo
  done
fi
exit "$status"

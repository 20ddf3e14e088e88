#!/usr/bin/env bash
# The benchmark suite: xlua against a reference on the same machine, in one run, each comparison
# repeated with the two sides alternating; prints a table (what, xlua, reference, ratio, target,
# pass/fail). Wall times are medians; CPU is user+system of the process and its children.
#
#   spec/bench/bench.sh BUILD_DIR          the full suite (./dev.sh bench: a Release build)
#   spec/bench/bench.sh BUILD_DIR quick    small inputs, one round: asserts that every line runs
#                                          (ctest, label bench), never the timings
#   XLUA_BENCH_DIR=DIR   where the inputs go (default: a new directory under $TMPDIR or /tmp;
#                        it must be a disk file system, not tmpfs, for the fsync references)
#   XLUA_BENCH_OUT=FILE  also write the table there
#   XLUA_BENCH_ONLY="big zstd"  only these groups: startup creates small_save big zstd cfg_parse
#
# Exit status: quick: 0 when every line ran; full: 0 when every line ran (failed targets show in
# the table as FAIL, with the status 0: a slow machine is not a broken build), 1 when a line
# could not run.
set -euo pipefail

BUILD=${1:?usage: bench.sh BUILD_DIR [quick]}
MODE=${2:-full}
BUILD=$(cd "$BUILD" && pwd)
XLUA=$BUILD/bin/xlua
RUN=$BUILD/bin/bench_run
CFG=$BUILD/bin/bench_cfg
for f in "$XLUA" "$RUN" "$CFG"; do
  [ -x "$f" ] || { echo "bench: $f is missing (build first)" >&2; exit 1; }
done

if [ "$MODE" = quick ]; then
  ROUNDS_SMALL=1 ROUNDS_BIG=1 BIG_MIB=16 CREATES=20 CFG_SETTINGS=500 CFG_ROUNDS=1
else
  ROUNDS_SMALL=15 ROUNDS_BIG=5 BIG_MIB=1024 CREATES=1000 CFG_SETTINGS=20000 CFG_ROUNDS=9
fi

W=${XLUA_BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/xlua-bench.XXXXXX")}
mkdir -p "$W"
cleanup() {
  XLUA_SIM_DIR=$W/sim "$XLUA" --backend sim list 2>/dev/null | awk 'NR > 2 { print $1 }' |
    while read -r d; do XLUA_SIM_DIR=$W/sim "$XLUA" --backend sim destroy "$d" >/dev/null 2>&1 || true; done
  rm -rf "$W"
}
trap cleanup EXIT
export XLUA_BACKEND=sim XLUA_SIM_DIR=$W/sim
mkdir -p "$XLUA_SIM_DIR"

TABLE=$W/table
: >"$TABLE"
FAILED_LINES=0

# ---- measuring ----

# m CMD... -> "WALL_US CPU_US MAXRSS_KB"; a command that fails stops the suite.
m() {
  local out
  if ! out=$("$RUN" "$@" 2>"$W/stderr"); then
    echo "bench: '$*' failed: $(tail -n 3 "$W/stderr")" >&2
    exit 1
  fi
  printf '%s\n' "$out"
}

# Before each big measurement, untimed: the sim frees a destroyed domain's image in a detached
# process (moved to freed/ first), and a restore leaves its image for the kernel to write back: wait for both, so no
# side's disk work lands in the other's measurement.
settle() {
  local i
  for i in $(seq 600); do
    compgen -G "$XLUA_SIM_DIR/freed/*" >/dev/null || break
    sleep 0.1
  done
  sync
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }
secs() { awk -v u="$1" 'BEGIN { printf "%.2f s", u / 1e6 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# row WHAT XLUA REF RATIO TARGET PASS(0|1)
row() {
  local verdict=pass
  [ "$6" -eq 1 ] || verdict=FAIL
  [ "$MODE" = quick ] && verdict=ran
  printf '| %-34s | %-11s | %-11s | %-7s | %-12s | %-4s |\n' "$1" "$2" "$3" "$4" "$5" "$verdict" \
    | tee -a "$TABLE"
}
ok() { "$@" && echo 1 || echo 0; }

header() {
  local cpu
  cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
  echo "bench: $MODE, $(nproc) cpus ($cpu), $(free -m | awk '/Mem:/ { print $2 }') MiB," \
       "load $(cut -d' ' -f1-3 /proc/loadavg), $(df -T "$W" | awk 'NR == 2 { print $2 }') in $W" | tee -a "$TABLE"
  printf '| %-34s | %-11s | %-11s | %-7s | %-12s | %-4s |\n' what xlua reference ratio target pass \
    | tee -a "$TABLE"
  printf '|%s|%s|%s|%s|%s|%s|\n' ------------------------------------ ------------- ------------- \
    --------- -------------- ------ | tee -a "$TABLE"
}

cfg() { # cfg FILE NAME MIB
  printf 'name = "%s"\nmemory = %s\nvcpus = 1\ntype = "pv"\nkernel = "/dev/null"\n' "$2" "$3" >"$1"
}

# ---- the lines ----

startup() {
  local a=() b=() r
  for _ in $(seq "$ROUNDS_SMALL"); do
    r=$(m "$XLUA" --version); a+=("${r%% *}")
    r=$(m lua5.4 -e ''); b+=("${r%% *}")
  done
  local x y; x=$(median "${a[@]}"); y=$(median "${b[@]}")
  row "xlua --version vs lua5.4 -e ''" "$(ms "$x")" "$(ms "$y")" \
    "+$(awk -v a="$x" -v b="$y" 'BEGIN { printf "%.1f", (a - b) / 1000 }')" "<= +2 ms" \
    "$(ok le $((x - y)) 2000)"
}

small_save() {
  local a=() c=() r
  cfg "$W/small.cfg" small 4
  "$XLUA" create -e "$W/small.cfg" >/dev/null 2>&1
  local b=()
  for _ in $(seq "$ROUNDS_SMALL"); do
    rm -f "$W/small.save"
    r=$(m "$XLUA" save small "$W/small.save"); a+=("${r%% *}")
    # the floor: the same bytes copied and made durable (fsync) on the same file system
    r=$(m sh -c 'cat "$1" > "$2" && sync "$2"' sh "$W/small.save" "$W/small.copy"); b+=("${r%% *}")
    rm -f "$W/small.copy"
    r=$(m "$XLUA" restore -e "$W/small.save"); c+=("${r%% *}")
  done
  "$XLUA" destroy small >/dev/null 2>&1
  local x y; x=$(median "${a[@]}"); y=$(median "${b[@]}")
  row "save 4 MiB sim (ref: cat+fsync)" "$(ms "$x")" "$(ms "$y")" "$(ratio "$x" "$y")" "< 8 ms" "$(ok le "$x" 8000)"
  x=$(median "${c[@]}")
  row "restore 4 MiB sim" "$(ms "$x")" - - - 1
}

# Creates run in a state directory of their own, first after startup, and their domains stay
# until the suite's end: ext4 without a journal skips, one buffer lookup each, every inode freed
# in the last one to six minutes when it allocates one, so the line would otherwise measure
# the deletions of the group before it (a save destroys its domain), and its own 1,000
# destroys would land on the groups after it.
creates() {
  local total=0 r
  local -x XLUA_SIM_DIR="$W/sim-creates"
  mkdir -p "$XLUA_SIM_DIR"
  cfg "$W/one.cfg" one 1
  for i in $(seq "$CREATES"); do
    r=$(m "$XLUA" create -e "$W/one.cfg" "name=\"n$i\""); total=$((total + ${r%% *}))
  done
  row "create $CREATES sim domains, one by one" "$(secs "$total")" - - \
    "< $(awk -v n="$CREATES" 'BEGIN { print 5 * n / 1000 }') s" "$(ok le "$total" $((5000 * CREATES)))"
  local a=()
  for _ in $(seq "$ROUNDS_SMALL"); do r=$(m "$XLUA" list); a+=("${r%% *}"); done
  local x; x=$(median "${a[@]}")
  row "list $CREATES sim domains" "$(ms "$x")" - - "< 20 ms" "$(ok le "$x" 20000)"
}

# Save and restore of a big domain against cat + fsync of the same bytes to the same file system.
big() {
  local s=() sc=() rs=() rc=() rcpu=() ccpu=() rss_s=() rss_r=() r
  cfg "$W/big.cfg" big "$BIG_MIB"
  "$XLUA" create -e "$W/big.cfg" >/dev/null 2>&1
  for _ in $(seq "$ROUNDS_BIG"); do
    rm -f "$W/big.save"     # both sides write a new file (replacing one frees its blocks)
    settle
    r=$(m "$XLUA" save big "$W/big.save"); s+=("${r%% *}"); rss_s+=("${r##* }")
    settle
    r=$(m sh -c 'cat "$1" > "$2" && sync "$2"' sh "$W/big.save" "$W/ref.copy"); sc+=("${r%% *}")
    rm -f "$W/ref.copy"
    settle
    r=$(m "$XLUA" restore -e "$W/big.save"); rs+=("${r%% *}"); r=${r#* }; rcpu+=("${r%% *}"); rss_r+=("${r##* }")
    settle
    r=$(m sh -c 'cat "$1" > "$2" && sync "$2"' sh "$W/big.save" "$W/ref.copy"); rc+=("${r%% *}")
    r=${r#* }; ccpu+=("${r%% *}")
    rm -f "$W/ref.copy"
  done
  local x y
  x=$(median "${s[@]}"); y=$(median "${sc[@]}")
  row "save ${BIG_MIB} MiB sim vs cat+fsync" "$(secs "$x")" "$(secs "$y")" "$(ratio "$x" "$y")" "<= 1.10" \
    "$(ok le "$(ratio "$x" "$y")" 1.10)"
  x=$(median "${rs[@]}"); y=$(median "${rc[@]}")
  row "restore ${BIG_MIB} MiB sim vs cat+fsync" "$(secs "$x")" "$(secs "$y")" "$(ratio "$x" "$y")" "<= 1.10" \
    "$(ok le "$(ratio "$x" "$y")" 1.10)"
  x=$(median "${rcpu[@]}"); y=$(median "${ccpu[@]}")
  row "  restore CPU vs cat+fsync CPU" "$(secs "$x")" "$(secs "$y")" "$(ratio "$x" "$y")" "<= 1.50" \
    "$(ok le "$(ratio "$x" "$y")" 1.50)"
  x=$(median "${rss_s[@]}"); row "  peak RSS of that save" "$(mib "$x")" - - "<= 64 MiB" "$(ok le "$x" 65536)"
  x=$(median "${rss_r[@]}"); row "  peak RSS of that restore" "$(mib "$x")" - - "<= 64 MiB" "$(ok le "$x" 65536)"
}

# -z: throughput of the input (the domain's memory), the size against the plain file, peak RSS
# with 2 and 16 worker threads allowed.
zstd() {
  local plain threads
  plain=$(stat -c %s "$W/big.save")
  for threads in 2 16; do
    local s=() rss_s=() rss_r=() r
    for _ in $(seq "$ROUNDS_BIG"); do
      rm -f "$W/big.zsave"
      settle
      r=$(XLUA_ZSTD_THREADS=$threads m "$XLUA" save -z big "$W/big.zsave"); s+=("${r%% *}"); rss_s+=("${r##* }")
      settle
      r=$(XLUA_ZSTD_THREADS=$threads m "$XLUA" restore -e "$W/big.zsave"); rss_r+=("${r##* }")
    done
    local x mbs size
    x=$(median "${s[@]}")
    mbs=$(awk -v m="$BIG_MIB" -v u="$x" 'BEGIN { printf "%.0f", m * 1048576 / (u / 1e6) / 1e6 }')
    size=$(awk -v a="$(stat -c %s "$W/big.zsave")" -v b="$plain" 'BEGIN { printf "%.3f", a / b }')
    if [ "$threads" = 2 ]; then
      row "save -z ${BIG_MIB} MiB, 2 threads" "$mbs MB/s" - - ">= 800 MB/s" "$(ok le 800 "$mbs")"
      row "  size of -z vs plain" "$size" - - "<= 0.34" "$(ok le "$size" 0.34)"
    fi
    x=$(median "${rss_s[@]}"); row "  peak RSS save -z, $threads threads" "$(mib "$x")" - - "<= 64 MiB" "$(ok le "$x" 65536)"
    x=$(median "${rss_r[@]}"); row "  peak RSS restore -z, $threads thr." "$(mib "$x")" - - "<= 64 MiB" "$(ok le "$x" 65536)"
  done
  "$XLUA" destroy big >/dev/null 2>&1 || true
}

cfg_parse() {
  local out x y n
  out=$("$CFG" "$CFG_ROUNDS" "$CFG_SETTINGS") || { echo "bench: bench_cfg failed" >&2; exit 1; }
  read -r x y n <<<"$out"
  row "parse a $((n / 1024)) KiB xl.cfg vs libxlutil" "$(ms "$x")" "$(ms "$y")" "$(ratio "$x" "$y")" "<= 1.00" \
    "$(ok le "$(ratio "$x" "$y")" 1.00)"
}

header
for group in ${XLUA_BENCH_ONLY:-startup creates small_save big zstd cfg_parse}; do
  case $group in
    zstd) [ -f "$W/big.save" ] || big; zstd ;;
    startup|small_save|creates|big|cfg_parse) $group ;;
    *) echo "bench: no group '$group'" >&2; exit 1 ;;
  esac
done
[ -z "${XLUA_BENCH_OUT:-}" ] || cp "$TABLE" "$XLUA_BENCH_OUT"

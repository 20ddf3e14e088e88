#!/bin/sh
# shellcheck shell=dash disable=SC2254
# The checks, run inside the test dom0 (busybox sh). Each check prints
#   XLUA-BEGIN <name>            before it runs
#   XLUA-CHECK <name> PASS|FAIL|SKIP <seconds> <detail>   after it
# and timings as XLUA-TIME <name> <seconds>. On a failure it prints the command's output and
# the last lines of the guests' consoles, dmesg and xl dmesg, between the two markers.
# A check whose xlua command is not there yet (missing from `xlua --help`, or an option missing
# from its --help) is a SKIP with the reason; where the command exists the check runs for real,
# and a module that does not load or a libxl backend that does not open is a FAIL.
T=/xen-tests
CONSOLE=/var/log/xen/console
ONLY=$(cat $T/only 2>/dev/null)
export XLUA_HISTORY=/tmp/xlua-history
exec 3>&1

# ---- helpers -------------------------------------------------------------------------------

now() { read -r up _ </proc/uptime; echo "$up"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

selected() {
  [ -z "$ONLY" ] && return 0
  for p in $ONLY; do
    case $1 in $p) return 0 ;; esac
  done
  return 1
}

# The result of an earlier check, PASS|FAIL|SKIP or empty.
result_of() { eval "echo \${RESULT_$(echo "$1" | tr -c 'a-zA-Z0-9\n' '_')}"; }

diagnose() {
  echo "--- output of the check (last 40 lines) ---"
  tail -n 40 /tmp/check.out
  echo "--- xl list ---"
  xl list 2>&1
  for f in "$CONSOLE"/guest-*.log; do
    [ -f "$f" ] || continue
    echo "--- guest console $(basename "$f") (last 10 lines) ---"
    tr -d '\r' <"$f" | tail -n 10
  done
  echo "--- dmesg (last 15 lines) ---"
  dmesg | tail -n 15
  echo "--- xl dmesg (last 15 lines) ---"
  xl dmesg 2>&1 | tail -n 15
}

# check NAME FUNCTION: FUNCTION returns 0 (pass), 77 (skip) or anything else (fail) and may
# set DETAIL to one line.
check() {
  _cn=$1
  selected "$_cn" || return 0
  DETAIL=""
  echo "XLUA-BEGIN $_cn"
  _t0=$(now)
  $2 >/tmp/check.out 2>&1 </dev/null
  _rc=$?
  _secs=$(elapsed "$_t0")
  case $_rc in
    0) _st=PASS ;;
    77) _st=SKIP ;;
    *) _st=FAIL; diagnose ;;
  esac
  echo "XLUA-CHECK $_cn $_st $_secs $(echo "$DETAIL" | tr '\n' ' ')"
  eval "RESULT_$(echo "$_cn" | tr -c 'a-zA-Z0-9\n' '_')=$_st"
}

# Inside a check: needs CHECK... (earlier checks that must have passed), else a skip.
needs() {
  for c; do
    r=$(result_of "$c")
    [ "$r" = PASS ] || { DETAIL="needs $c, which ${r:-did not run}"; return 1; }
  done
}

fail() { DETAIL="$*"; echo "FAILED: $*"; return 1; }

# A command with a time limit: no single step may hang the run.
t() { timeout 180 "$@"; }

# timed LABEL CMD...: run CMD (callers give it a time limit), report its time as XLUA-TIME LABEL.
timed() {
  label=$1
  shift
  t1=$(now)
  "$@"
  r=$?
  echo "XLUA-TIME $label $(elapsed "$t1")" >&3
  return $r
}

# xl list column for a domain: 2 id, 3 memory, 4 vcpus, 5 state.
xl_col() { xl list 2>/dev/null | awk -v n="$1" -v c="$2" '$1 == n { print $c }'; }
exists() { [ -n "$(xl_col "$1" 2>/dev/null)" ]; }
domain_count() { xl list 2>/dev/null | awk 'NR > 1' | wc -l; }

# The last counter the guest printed on its console, 0 if none yet.
last_alive() {
  f=$CONSOLE/guest-$1.log
  n=""
  [ -f "$f" ] && n=$(tr -d '\r' <"$f" | sed -n 's/.*GUEST-ALIVE \([0-9][0-9]*\).*/\1/p' | tail -n 1)
  echo "${n:-0}"
}

# wait_alive NAME AFTER [SECONDS]: wait for a counter above AFTER; prints it.
wait_alive() {
  local i=0 lim n
  lim=$(( ${3:-60} * 2 ))
  while [ $i -lt $lim ]; do
    n=$(last_alive "$1")
    if [ "$n" -gt "$2" ]; then echo "$n"; return 0; fi
    sleep 0.5
    i=$((i + 1))
  done
  echo "no GUEST-ALIVE above $2 from $1 within ${3:-60}s"
  return 1
}

# running NAME: the domain exists in xl list and its console shows it counting.
running() {
  local before
  exists "$1" || { fail "$1 is not in xl list"; return 1; }
  before=$(last_alive "$1")
  wait_alive "$1" "$before" 30 >/dev/null || { fail "$1 console stopped at GUEST-ALIVE $before"; return 1; }
}

# After a restore: the guest counts on from where it was saved, not from 1 (a reboot).
continues() {
  local n
  exists "$1" || { fail "$1 is not in xl list after the restore"; return 1; }
  n=$(wait_alive "$1" "$2" 60) || { fail "$1 console did not continue after GUEST-ALIVE $2"; return 1; }
  DETAIL="$DETAIL console went on from $2 to $n"
}

have_cmd() { xlua --help 2>/dev/null | grep -q "^  $1 "; }
need_cmds() {
  for c; do
    have_cmd "$c" || { DETAIL="scripts/$c.lua not installed (xlua --help lacks $c)"; return 1; }
  done
}
need_module() {
  out=$(xlua -e "require '$1'" 2>&1) || { DETAIL="module $1 does not load: $(echo "$out" | head -n 1)"; return 1; }
}
# need_option CMD OPTION: the command's --help mentions the option.
need_option() {
  xlua "$1" --help 2>&1 | grep -q -e "$2" || { DETAIL="xlua $1 --help lacks $2"; return 1; }
}
# The backend xlua chooses by itself must be libxl here and it must open (a FAIL otherwise,
# with its message). Probed once.
BACKEND_PROBE=""
probe_backend() {
  BACKEND_OUT=$(xlua -e '
local domain = require("xlua.domain")
local name, err = domain.choose()
if name ~= "libxl" then io.stderr:write("chose ", tostring(name or err), "\n") os.exit(3) end
local handle, msg, code = domain.open()
if not handle then io.stderr:write(tostring(code), ": ", tostring(msg), "\n") os.exit(4) end
handle:close()' 2>&1)
  BACKEND_PROBE=$?
}
# need_xlua CMD...: returns 0, 77 (skip: a command not there) or 1 (fail), for
# `need_xlua ... || return $?`.
need_xlua() {
  need_module xlua.domain || { fail "$DETAIL"; return 1; }
  [ -n "$BACKEND_PROBE" ] || probe_backend
  case $BACKEND_PROBE in
    0) ;;
    3) fail "the backend xlua chooses in dom0 is not libxl: $BACKEND_OUT"; return 1 ;;
    4) fail "the libxl backend does not open in dom0: $BACKEND_OUT"; return 1 ;;
    *) fail "xlua.domain probe failed (status $BACKEND_PROBE): $BACKEND_OUT"; return 1 ;;
  esac
  need_cmds "$@" || return 77
}

verify_ok() { t xlua verify "$1" || { fail "xlua verify $1 failed"; return 1; }; }

# ---- the checks: real xl only, proving the image ---------------------------------------------

c_xl_info() {
  t xl info >/tmp/xl-info || { fail "xl info failed"; return 1; }
  cat /tmp/xl-info
  v=$(awk -F': *' '$1 ~ /^xen_version/ { print $2 }' /tmp/xl-info)
  case $v in 4.17*) DETAIL="xen $v, $(awk -F': *' '$1 ~ /^total_memory/ { print $2 }' /tmp/xl-info) MiB" ;;
    *) fail "xen_version is '$v'"; return 1 ;;
  esac
}

c_xl_create() {
  t xl create $T/configs/xl-guest.cfg || { fail "xl create failed"; return 1; }
  n=$(wait_alive xlg 0 120) || { fail "xlg: $n"; return 1; }
  DETAIL="xlg console shows GUEST-ALIVE $n"
}

c_xl_list() {
  needs xl.create || return 77
  m=$(xl_col xlg 3) v=$(xl_col xlg 4)
  [ "$m" = 128 ] && [ "$v" = 1 ] || { fail "xl list says memory '$m' vcpus '$v', expected 128 and 1"; return 1; }
  DETAIL="xlg: memory $m vcpus $v"
}

c_xl_save() {
  needs xl.create || return 77
  XLG_SAVED=$(last_alive xlg)
  timed xl.save t xl save xlg /tmp/xl.save || { fail "xl save failed"; return 1; }
  ! exists xlg || { fail "xlg still exists after xl save"; return 1; }
  DETAIL="$(stat -c %s /tmp/xl.save) bytes, header: $(head -c 27 /tmp/xl.save)"
  head -c 27 /tmp/xl.save | grep -q 'Xen saved domain, xl format' || { fail "not an xl savefile"; return 1; }
}

c_xl_restore() {
  needs xl.save || return 77
  timed xl.restore t xl restore /tmp/xl.save || { fail "xl restore failed"; return 1; }
  continues xlg "$XLG_SAVED"
}

c_xl_disk() {
  needs xl.restore || return 77
  p=$(xenstore-read "/local/domain/0/backend/vbd/$(xl_col xlg 2)/51712/params") ||
    { fail "no vbd backend for xlg"; return 1; }
  [ "$p" = /dev/ram0 ] || { fail "xlg's disk is '$p', expected /dev/ram0"; return 1; }
  DETAIL="xlg's xvda backend is $p"
}

c_xl_destroy() {
  needs xl.create || return 77
  t xl destroy xlg || { fail "xl destroy failed"; return 1; }
  ! exists xlg || fail "xlg still exists"
}

# ---- xlua: create, list ----------------------------------------------------------------------

c_xlua_backend() {
  need_xlua || return $?
  DETAIL="xlua chose libxl by itself and it opens"
}

c_xlua_create_xlcfg() {
  need_xlua create || return $?
  t xlua create $T/configs/guest-a.cfg || { fail "xlua create guest-a.cfg failed"; return 1; }
  exists xa || { fail "xa is not in xl list (was the libxl backend chosen?)"; return 1; }
  n=$(wait_alive xa 0 120) || { fail "xa: $n"; return 1; }
  DETAIL="xa console shows GUEST-ALIVE $n"
}

c_xlua_create_luacfg() {
  need_xlua create || return $?
  t xlua create $T/configs/guest-b.lua || { fail "xlua create guest-b.lua failed"; return 1; }
  exists xb || { fail "xb is not in xl list"; return 1; }
  n=$(wait_alive xb 0 120) || { fail "xb: $n"; return 1; }
  DETAIL="xb console shows GUEST-ALIVE $n"
}

# xlua list, in xl's columns, must say what the config said and what xl says.
list_matches() {
  local name=$1 mem=$2 vcpus=$3 line
  line=$(awk -v n="$name" '$1 == n' /tmp/xlua-list)
  [ -n "$line" ] || { fail "xlua list does not show $name"; return 1; }
  set -- $line
  [ "$3" = "$mem" ] && [ "$4" = "$vcpus" ] ||
    { fail "xlua list shows $name with memory '$3' vcpus '$4', expected $mem and $vcpus"; return 1; }
  [ "$3" = "$(xl_col "$name" 3)" ] && [ "$4" = "$(xl_col "$name" 4)" ] ||
    { fail "xlua list and xl list differ for $name"; return 1; }
  DETAIL="$DETAIL $name: $3 MiB, $4 vcpus;"
}

c_xlua_list() {
  need_xlua list || return $?
  t xlua list >/tmp/xlua-list || { fail "xlua list failed"; return 1; }
  cat /tmp/xlua-list
  ok=0
  if [ "$(result_of xlua.create.xlcfg)" = PASS ]; then list_matches xa 128 1 || return 1; ok=1; fi
  if [ "$(result_of xlua.create.luacfg)" = PASS ]; then list_matches xb 96 2 || return 1; ok=1; fi
  [ $ok = 1 ] || { DETAIL="no guest created by xlua to list"; return 77; }
}

c_xlua_console() {
  needs xlua.create.xlcfg xlua.create.luacfg || return 77
  running xa && running xb && DETAIL="xa at GUEST-ALIVE $(last_alive xa), xb at $(last_alive xb)"
}

# ---- xlua: save, inspect, verify, restore ------------------------------------------------------

c_xlua_save() {
  needs xlua.create.xlcfg || return 77
  need_cmds save || return 77
  XA_SAVED=$(last_alive xa)
  timed xlua.save t xlua save xa /tmp/xa.save || { fail "xlua save failed"; return 1; }
  ! exists xa || { fail "xa still exists after xlua save"; return 1; }
  DETAIL="$(stat -c %s /tmp/xa.save) bytes"
}

c_xlua_inspect() {
  needs xlua.save || return 77
  t xlua inspect /tmp/xa.save >/tmp/inspect.out || { cat /tmp/inspect.out; fail "xlua inspect failed"; return 1; }
  cat /tmp/inspect.out
  grep -q '"name": "xa"' /tmp/inspect.out || { fail "the config in the savefile does not name xa"; return 1; }
  grep -q 'SOURCE' /tmp/inspect.out || { fail "no SOURCE extension (the config as written)"; return 1; }
  DETAIL="$(grep '^stream ' /tmp/inspect.out)"
}

c_xlua_verify() {
  needs xlua.save || return 77
  verify_ok /tmp/xa.save && DETAIL="whole, trailer matches"
}

c_xlua_restore() {
  needs xlua.save || return 77
  need_cmds restore || return 77
  timed xlua.restore t xlua restore /tmp/xa.save || { fail "xlua restore failed"; return 1; }
  continues xa "$XA_SAVED"
}

c_xlua_save_checkpoint() {
  needs xlua.create.luacfg || return 77
  need_cmds save && need_option save '-c' || return 77
  t xlua save -c xb /tmp/xb-c.save || { fail "xlua save -c failed"; return 1; }
  running xb || return 1
  verify_ok /tmp/xb-c.save || return 1
  rm -f /tmp/xb-c.save
  DETAIL="xb left running, savefile whole"
}

c_xlua_save_paused() {
  needs xlua.restore || return 77
  need_option save '-p' || return 77
  t xlua save -p xa /tmp/xa-p.save || { fail "xlua save -p failed"; return 1; }
  s=$(xl_col xa 5)
  case $s in *p*) ;; *) fail "xa state after save -p is '$s', expected paused"; return 1 ;; esac
  verify_ok /tmp/xa-p.save || return 1
  rm -f /tmp/xa-p.save
  at=$(last_alive xa)
  t xl unpause xa || { fail "xl unpause failed"; return 1; }
  continues xa "$at"
  DETAIL="xa left paused ($s);$DETAIL"
}

c_xlua_save_compressed() {
  needs xlua.create.luacfg || return 77
  need_cmds save restore && need_option save '-z' || return 77
  saved=$(last_alive xb)
  t xlua save -z xb /tmp/xb-z.save || { fail "xlua save -z failed"; return 1; }
  t xlua inspect /tmp/xb-z.save >/tmp/inspect.out || { fail "xlua inspect failed"; return 1; }
  grep -i 'zstd\|compress' /tmp/inspect.out || { fail "inspect does not show a compressed stream"; return 1; }
  verify_ok /tmp/xb-z.save || return 1
  size=$(stat -c %s /tmp/xb-z.save)
  t xlua restore /tmp/xb-z.save || { fail "xlua restore of the -z file failed"; return 1; }
  rm -f /tmp/xb-z.save
  continues xb "$saved"
  DETAIL="$size bytes;$DETAIL"
}

c_xlua_save_pipe() {
  needs xlua.restore || return 77
  need_cmds save restore || return 77
  saved=$(last_alive xa)
  { t xlua save xa -; echo $? >/tmp/rc.save; } | cat >/tmp/xa-pipe.save
  [ "$(cat /tmp/rc.save)" = 0 ] || { fail "xlua save xa - failed"; return 1; }
  # a save to a stream never destroys: nothing tells it the other end has the domain
  s=$(xl_col xa 5)
  case $s in *p*) ;; *) fail "xa after save to a pipe is '$s', expected kept paused"; return 1 ;; esac
  cat /tmp/xa-pipe.save | t xlua verify - || { fail "xlua verify - failed on the piped file"; return 1; }
  t xlua destroy xa || { fail "xlua destroy xa failed"; return 1; }
  cat /tmp/xa-pipe.save | t xlua restore - || { fail "xlua restore - failed"; return 1; }
  rm -f /tmp/xa-pipe.save
  continues xa "$saved"
}

# SIGTERM in the middle of a save: the guest runs on where it was, no temporary file stays, the
# target is never created, exit 143.
c_xlua_save_sigterm() {
  needs xlua.save.pipe || return 77
  rm -f /tmp/xa-term.save /tmp/.xa-term.save.xlua-tmp.*
  xlua save xa /tmp/xa-term.save >/tmp/term.out 2>&1 &
  pid=$!
  i=0
  while [ $i -lt 200 ] && ! ls /tmp/.xa-term.save.xlua-tmp.* >/dev/null 2>&1; do
    sleep 0.05
    i=$((i + 1))
  done
  sleep 0.3
  kill -TERM $pid
  wait $pid
  rc=$?
  cat /tmp/term.out
  [ "$rc" = 143 ] || { fail "xlua save after SIGTERM exited $rc, expected 143"; return 1; }
  [ ! -e /tmp/xa-term.save ] || { fail "the target exists after an interrupted save"; return 1; }
  ! ls /tmp/.xa-term.save.xlua-tmp.* >/dev/null 2>&1 || { fail "a temporary file stayed"; return 1; }
  grep -q "interrupted by SIGTERM" /tmp/term.out || { fail "no line saying SIGTERM stopped it"; return 1; }
  at=$(last_alive xa)
  continues xa "$at" || return 1
  s=$(xl_col xa 5)
  case $s in *p*) fail "xa is left paused ($s)"; return 1 ;; esac
  DETAIL="exit 143, guest resumed;$DETAIL"
}

# A savefile of a domain that still runs is refused (the same uuid twice would share its disks),
# and a second save of a domain another save holds is refused at once.
c_xlua_restore_uuid() {
  needs xlua.save.pipe || return 77
  t xlua save -c xa /tmp/xa-c.save || { fail "xlua save -c failed"; return 1; }
  before=$(domain_count)
  t xlua restore /tmp/xa-c.save >/tmp/uuid.out 2>&1
  rc=$?
  cat /tmp/uuid.out
  [ "$rc" = 1 ] || { fail "restore of a running domain's image exited $rc, expected 1"; return 1; }
  grep -q "already runs with uuid" /tmp/uuid.out || { fail "the refusal does not name the uuid"; return 1; }
  [ "$(domain_count)" = "$before" ] || { fail "the domain count changed"; return 1; }
  rm -f /tmp/xa-c.save
  # the first save's reader waits, so it holds the domain while the second one asks
  { xlua save -c xa - 2>/dev/null | { sleep 4; cat >/dev/null; }; } &
  bg=$!
  sleep 1
  t xlua save -c xa /tmp/xa-busy.save >/tmp/busy.out 2>&1
  rc=$?
  wait $bg
  cat /tmp/busy.out
  [ "$rc" = 1 ] || { fail "a second save of a busy domain exited $rc, expected 1"; return 1; }
  grep -q "busy" /tmp/busy.out || { fail "the refusal does not say the domain is busy"; return 1; }
  at=$(last_alive xa)
  continues xa "$at" || return 1
  s=$(xl_col xa 5)
  case $s in *p*) fail "xa is left paused ($s)"; return 1 ;; esac
  DETAIL="UUIDTAKEN and BUSY, xa running;$DETAIL"
}

# ---- xlua: restore with a replacement config --------------------------------------------------

# Save xa into /tmp/xa.save for the replacement-config checks.
c_xlua_compat_save() {
  needs xlua.restore || return 77
  XA_SAVED=$(last_alive xa)
  t xlua save xa /tmp/xa.save || { fail "xlua save failed"; return 1; }
  ! exists xa || fail "xa still exists"
}

# refused CFG: the restore is refused and nothing is created.
refused() {
  count=$(domain_count)
  if t xlua restore "$1" /tmp/xa.save >/tmp/restore.out 2>&1; then
    cat /tmp/restore.out
    fail "xlua restore $(basename "$1") was accepted"
    return 1
  fi
  cat /tmp/restore.out
  ! exists xa || { fail "xa exists after a refused restore"; return 1; }
  [ "$(domain_count)" = "$count" ] || { fail "the domain count changed: a domain was created"; return 1; }
  verify_ok /tmp/xa.save || return 1
  DETAIL="refused: $(head -n 1 /tmp/restore.out)"
}

c_xlua_restore_refuse_memory() {
  needs xlua.compat.save || return 77
  refused $T/configs/guest-a-memory.cfg
}

c_xlua_restore_refuse_vcpus() {
  needs xlua.compat.save || return 77
  refused $T/configs/guest-a-vcpus.cfg
}

# What libxl itself can do with a changed config, found out with real xl on the xl savefile:
# `xl restore CFG FILE` takes the replacement as it is.
libxl_can() {
  saved=$XLG_SAVED
  if t xl restore "$1" /tmp/xl.save; then
    if n=$(wait_alive xlg "$saved" 60); then
      echo "libxl restores $(basename "$1"): the guest runs"
      t xl destroy xlg
      return 0
    fi
    t xl destroy xlg
  fi
  echo "libxl cannot restore $(basename "$1")"
  return 1
}

c_xl_restore_memory() {
  needs xl.save || return 77
  if libxl_can $T/configs/xl-guest-memory.cfg; then LIBXL_MEMORY=yes; DETAIL="libxl can"; else LIBXL_MEMORY=no; DETAIL="libxl cannot"; fi
}

c_xl_restore_vcpus() {
  needs xl.save || return 77
  if libxl_can $T/configs/xl-guest-vcpus.cfg; then LIBXL_VCPUS=yes; DETAIL="libxl can"; else LIBXL_VCPUS=no; DETAIL="libxl cannot"; fi
}

# forced CFG LIBXL_CAN: with --force, accepted exactly where libxl can do it.
forced() {
  need_option restore '--force' || return 77
  if [ "$2" = yes ]; then
    t xlua restore --force "$1" /tmp/xa.save || { fail "xlua restore --force $(basename "$1") failed, libxl can do it"; return 1; }
    continues xa "$XA_SAVED" || return 1
    t xl destroy xa
    DETAIL="accepted as libxl can;$DETAIL"
  else
    count=$(domain_count)
    if t xlua restore --force "$1" /tmp/xa.save; then
      fail "xlua restore --force $(basename "$1") was accepted; libxl cannot do it"
      t xl destroy xa
      return 1
    fi
    ! exists xa && [ "$(domain_count)" = "$count" ] || { fail "a domain was left behind"; return 1; }
    verify_ok /tmp/xa.save || return 1
    DETAIL="refused as libxl cannot"
  fi
}

c_xlua_restore_force_memory() {
  needs xlua.compat.save xl.restore.memory || return 77
  forced $T/configs/guest-a-memory.cfg "$LIBXL_MEMORY"
}

c_xlua_restore_force_vcpus() {
  needs xlua.compat.save xl.restore.vcpus || return 77
  forced $T/configs/guest-a-vcpus.cfg "$LIBXL_VCPUS"
}

c_xlua_restore_move_target() {
  needs xlua.compat.save || return 77
  t xlua restore $T/configs/guest-a-moved.cfg /tmp/xa.save || { fail "xlua restore guest-a-moved.cfg failed"; return 1; }
  continues xa "$XA_SAVED" || return 1
  p=$(xenstore-read "/local/domain/0/backend/vbd/$(xl_col xa 2)/51712/params")
  [ "$p" = /dev/ram2 ] || { fail "xa's disk is '$p', expected /dev/ram2"; return 1; }
  DETAIL="disk moved to $p;$DETAIL"
  t xl destroy xa
}

# Back to the saved domain as it was, for the checks after these.
c_xlua_compat_restore() {
  needs xlua.compat.save || return 77
  t xlua restore /tmp/xa.save || { fail "xlua restore failed"; return 1; }
  continues xa "$XA_SAVED"
}

# ---- the monitor -------------------------------------------------------------------------------

# The boots a guest's console shows (each boot prints GUEST-ALIVE 1 once).
boots() { tr -d '\r' <"$CONSOLE/guest-$1.log" 2>/dev/null | grep -c 'GUEST-ALIVE 1$'; }

# A guest created by xlua with on_crash = "restart", crashed with sysrq c, comes back with a new
# domid and boots again: xlua's monitor saw libxl's shutdown event and restarted it.
c_xlua_monitor_crash() {
  need_xlua create sysrq monitor || return $?
  XLUA_MONITOR_MIN_UPTIME=3 t xlua create $T/configs/guest-c.cfg >/tmp/mon.out 2>&1 || {
    cat /tmp/mon.out; fail "xlua create guest-c.cfg failed"; return 1; }
  cat /tmp/mon.out
  grep -q "monitor of xc running" /tmp/mon.out || { fail "create started no monitor"; return 1; }
  wait_alive xc 1 120 >/dev/null || { fail "xc did not come up"; return 1; }
  first=$(xl_col xc 2)
  b=$(boots xc)
  t xlua sysrq xc c || { fail "xlua sysrq xc c failed"; return 1; }
  i=0
  while [ $i -lt 120 ]; do
    now=$(xl_col xc 2)
    [ -n "$now" ] && [ "$now" != "$first" ] && break
    sleep 0.5
    i=$((i + 1))
  done
  cat /var/log/xlua/xc.log
  [ -n "$now" ] && [ "$now" != "$first" ] || { fail "xc was not restarted (domid $first, now '$now')"; return 1; }
  i=0
  while [ $i -lt 240 ] && [ "$(boots xc)" -le "$b" ]; do sleep 0.5; i=$((i + 1)); done
  [ "$(boots xc)" -gt "$b" ] || { fail "xc's console does not show it booting again"; return 1; }
  grep -q "reason crash: restart" /var/log/xlua/xc.log || { fail "the monitor's log does not say why"; return 1; }
  DETAIL="domid $first -> $now, booted again"
}

# xlua reboot: the guest reboots itself, its monitor restarts it; xlua shutdown -w: it powers
# off and its monitor destroys it. And a domain restored by xlua has a monitor too.
c_xlua_monitor_reboot() {
  needs xlua.monitor.crash || return 77
  need_cmds reboot shutdown || return 77
  grep -c "Waiting for domain xa" /var/log/xlua/xa.log | grep -qv '^[01]$' || {
    fail "xa, restored by xlua, got no monitor of its own"; return 1; }
  sleep 3.5   # past the restart-loop guard of the crash check's create
  first=$(xl_col xc 2)
  b=$(boots xc)
  t xlua reboot xc || { fail "xlua reboot xc failed"; return 1; }
  i=0
  while [ $i -lt 240 ] && [ "$(boots xc)" -le "$b" ]; do sleep 0.5; i=$((i + 1)); done
  [ "$(boots xc)" -gt "$b" ] || { fail "xc did not boot again after xlua reboot"; return 1; }
  [ "$(xl_col xc 2)" != "$first" ] || { fail "xc kept domid $first"; return 1; }
  grep -q "reason reboot: restart" /var/log/xlua/xc.log || { fail "the monitor did not restart it"; return 1; }
  sleep 3.5
  t xlua shutdown -w xc || { fail "xlua shutdown -w xc failed"; return 1; }
  i=0
  while [ $i -lt 60 ] && exists xc; do sleep 0.5; i=$((i + 1)); done
  cat /var/log/xlua/xc.log
  ! exists xc || { fail "xc still exists after shutdown (its monitor should destroy it)"; return 1; }
  grep -q "reason poweroff: destroy" /var/log/xlua/xc.log || { fail "the monitor did not destroy it"; return 1; }
  DETAIL="rebooted and restarted; powered off and destroyed; restored xa monitored"
}

# ---- host shutdown and boot ------------------------------------------------------------------

# save-all of both guests at once, then restore-all: each image verified, restored, removed once
# its domain runs, and both guests count on from where they were saved.
c_xlua_hostsave() {
  needs xlua.create.xlcfg xlua.create.luacfg || return 77
  need_xlua save-all restore-all || return $?
  running xa && running xb || return 1
  rm -rf /tmp/hostsave
  a=$(last_alive xa) b=$(last_alive xb)
  timed xlua.save-all t xlua save-all -j 2 /tmp/hostsave xa xb || { fail "xlua save-all failed"; return 1; }
  ! exists xa && ! exists xb || { fail "a guest still exists after save-all"; return 1; }
  ls -l /tmp/hostsave
  timed xlua.restore-all t xlua restore-all -j 2 --no-auto /tmp/hostsave || { fail "xlua restore-all failed"; return 1; }
  [ -z "$(ls -A /tmp/hostsave)" ] || { fail "images left after restore-all: $(ls -A /tmp/hostsave)"; return 1; }
  continues xa "$a" || return 1
  continues xb "$b"
}

# ---- interop with real xl ------------------------------------------------------------------

c_interop_inspect_xl() {
  needs xl.save || return 77
  t xlua inspect /tmp/xl.save >/tmp/inspect.out || { cat /tmp/inspect.out; fail "xlua inspect of xl's file failed"; return 1; }
  cat /tmp/inspect.out
  grep -q '"name": "xlg"' /tmp/inspect.out || { fail "no config naming xlg"; return 1; }
  DETAIL="$(grep '^stream ' /tmp/inspect.out)"
}

c_interop_verify_xl() {
  needs xl.save || return 77
  verify_ok /tmp/xl.save && DETAIL="structure whole (xl writes no trailer)"
}

c_interop_xlua_restores_xl() {
  needs xl.save xl.destroy || return 77
  need_xlua restore || return $?
  timed xlua.restore.xl-file t xlua restore /tmp/xl.save || { fail "xlua restore of xl's file failed"; return 1; }
  continues xlg "$XLG_SAVED" || return 1
  t xl destroy xlg
}

c_interop_xl_restores_xlua() {
  needs xlua.create.luacfg || return 77
  need_cmds save || return 77
  saved=$(last_alive xb)
  t xlua save xb /tmp/xb.save || { fail "xlua save xb failed"; return 1; }
  t xl restore /tmp/xb.save || { fail "xl restore of xlua's file failed"; return 1; }
  rm -f /tmp/xb.save
  continues xb "$saved"
}

# The same save and restore of the same guest, xl's beside xlua's.
c_timing() {
  needs xlua.compat.restore || return 77
  exists xa || { fail "xa is not running"; return 1; }
  rm -f /tmp/xl.save /tmp/xa.save
  timed same.xl.save t xl save xa /tmp/t.save || { fail "xl save xa failed"; return 1; }
  timed same.xl.restore t xl restore /tmp/t.save || { fail "xl restore failed"; return 1; }
  rm -f /tmp/t.save
  timed same.xlua.save t xlua save xa /tmp/t.save || { fail "xlua save xa failed"; return 1; }
  timed same.xlua.restore t xlua restore /tmp/t.save || { fail "xlua restore failed"; return 1; }
  rm -f /tmp/t.save
  running xa
}

# ---- pause, unpause, rename, destroy -----------------------------------------------------------

c_xlua_pause() {
  needs xlua.create.luacfg || return 77
  need_cmds pause || return 77
  exists xb || { fail "xb is not running"; return 1; }
  t xlua pause xb || { fail "xlua pause failed"; return 1; }
  s=$(xl_col xb 5)
  case $s in *p*) DETAIL="xb state $s" ;; *) fail "xb state is '$s' after xlua pause"; return 1 ;; esac
}

c_xlua_unpause() {
  needs xlua.pause || return 77
  need_cmds unpause || return 77
  at=$(last_alive xb)
  t xlua unpause xb || { fail "xlua unpause failed"; return 1; }
  s=$(xl_col xb 5)
  case $s in *p*) fail "xb state is '$s' after xlua unpause"; return 1 ;; esac
  continues xb "$at"
}

c_xlua_rename() {
  needs xlua.create.luacfg || return 77
  need_cmds rename || return 77
  id=$(xl_col xb 2)
  t xlua rename xb xb2 || { fail "xlua rename failed"; return 1; }
  [ "$(xl_col xb2 2)" = "$id" ] && ! exists xb || { fail "xl list does not show xb renamed to xb2"; return 1; }
  DETAIL="domain $id is now xb2"
}

c_xlua_destroy() {
  needs xlua.create.luacfg || return 77
  need_cmds destroy || return 77
  for d in xb2 xb xa; do
    exists $d || continue
    t xlua destroy $d || { fail "xlua destroy $d failed"; return 1; }
    ! exists $d || { fail "$d still exists"; return 1; }
    DETAIL="$DETAIL $d"
  done
  DETAIL="destroyed$DETAIL"
}

# ---- xl.cfg -> libxl JSON: xlua convert against xl create -n --------------------------------

c_convert() {
  need_cmds convert || return 77
  n=0 bad="" left=""
  for cfg in $T/configs/corpus/*.cfg; do
    [ -f "$cfg" ] || continue
    b=$(basename "$cfg" .cfg)
    cp "$cfg" /tmp/$b.cfg
    # refuse-*.cfg: configs xl refuses (it exits); xlua must refuse them too (exit 2).
    case $b in refuse-*)
      t xl create -n /tmp/$b.cfg >/dev/null 2>/tmp/$b.xl.err && { bad="$bad $b(xl accepts)"; continue; }
      t xlua convert /tmp/$b.cfg >/dev/null 2>/tmp/$b.xlua.err; r=$?
      [ $r = 2 ] || { cat /tmp/$b.xlua.err; bad="$bad $b(xlua exit $r)"; continue; }
      echo "== $b: both refuse"; n=$((n + 1)); continue ;;
    esac
    t xlua convert /tmp/$b.cfg >/tmp/$b.xlua.json 2>/tmp/$b.xlua.err ||
      { cat /tmp/$b.xlua.err; bad="$bad $b(xlua)"; continue; }
    # Keys xlua says it does not support are left out on both sides: the comparison covers
    # every field xlua supports.
    keys=$(sed -n 's/.*: \([A-Za-z0-9_.]*\): unknown to xlua, ignored.*/\1/p' /tmp/$b.xlua.err)
    if [ -n "$keys" ]; then
      for k in $keys; do sed -i "/^[[:space:]]*${k}[[:space:]]*=/d" /tmp/$b.cfg; done
      left="$left $b:$(echo $keys | tr ' ' ',')"
      t xlua convert /tmp/$b.cfg >/tmp/$b.xlua.json 2>/tmp/$b.xlua.err ||
        { cat /tmp/$b.xlua.err; bad="$bad $b(xlua)"; continue; }
    fi
    t xl create -n /tmp/$b.cfg >/tmp/$b.xl.json 2>/tmp/$b.xl.err ||
      { cat /tmp/$b.xl.err; bad="$bad $b(xl)"; continue; }
    echo "== $b"
    t xlua $T/lua/compare-json.lua /tmp/$b.xl.json /tmp/$b.xlua.json >/tmp/$b.cmp
    r=$?
    cat /tmp/$b.cmp
    echo "XLUA-INFO convert $b: $(tail -n 1 /tmp/$b.cmp)" >&3
    [ $r = 0 ] || bad="$bad $b"
    n=$((n + 1))
  done
  [ -z "$bad" ] || { fail "xl and xlua differ on:$bad"; return 1; }
  DETAIL="$n configs agree${left:+ (left out as unsupported:$left)}"
}

# ---- xenstore and host facts: xlua info, xlua xenstore-*, xlua.xs ---------------------------

# xlua info against xl info: the same keys in the same order, the same values but free_memory
# (domains come and go between the two).
c_xlua_info() {
  need_xlua info || return $?
  t xl info >/tmp/xl-info.txt 2>/dev/null || { fail "xl info failed"; return 1; }
  t xlua info >/tmp/xlua-info.txt || { fail "xlua info failed"; return 1; }
  cat /tmp/xlua-info.txt
  a=$(cut -d: -f1 /tmp/xl-info.txt | tr -d ' ' | tr '\n' ' ')
  b=$(cut -d: -f1 /tmp/xlua-info.txt | tr -d ' ' | tr '\n' ' ')
  [ "$a" = "$b" ] || { fail "the keys differ: xl: $a; xlua: $b"; return 1; }
  grep -v '^free_memory' /tmp/xl-info.txt >/tmp/xl-info.static
  grep -v '^free_memory' /tmp/xlua-info.txt >/tmp/xlua-info.static
  diff /tmp/xl-info.static /tmp/xlua-info.static || { fail "xl info and xlua info differ (diff above)"; return 1; }
  [ "$(xlua info xen_version)" = "$(xl info xen_version 2>/dev/null)" ] || { fail "xlua info xen_version differs"; return 1; }
  t xlua info --json >/tmp/xlua-info.json || { fail "xlua info --json failed"; return 1; }
  grep -q '"cpupools"' /tmp/xlua-info.json || { fail "no cpupools in xlua info --json"; return 1; }
  DETAIL="$(echo $a | wc -w) keys as xl info, same values but free_memory"
}

# xlua's xenstore commands and xlua.xs on a guest's nodes, against xenstore-utils.
c_xlua_xenstore() {
  need_xlua xenstore-read xenstore-write xenstore-ls xenstore-list xenstore-rm xenstore-watch || return $?
  sed -e 's/^name = .*/name = "xsg"/' -e '/^disk/d' $T/configs/xl-guest.cfg >/tmp/xsg.cfg
  t xl create /tmp/xsg.cfg || { fail "xl create xsg failed"; return 1; }
  wait_alive xsg 0 120 >/dev/null || { fail "xsg did not come up"; t xl destroy xsg; return 1; }
  id=$(xl_col xsg 2) d=/local/domain/$(xl_col xsg 2)
  r=$(t xlua xenstore-read $d/name) && [ "$r" = xsg ] && [ "$r" = "$(xenstore-read $d/name)" ] ||
    { fail "xlua xenstore-read $d/name says '$r'"; t xl destroy xsg; return 1; }
  for p in $d $d/memory /vm; do
    xenstore-ls -p $p >/tmp/ls.real 2>&1; xlua xenstore-ls -p $p >/tmp/ls.xlua 2>&1
    diff /tmp/ls.real /tmp/ls.xlua || { fail "xenstore-ls -p $p differs (diff above)"; t xl destroy xsg; return 1; }
  done
  [ "$(xenstore-list $d | tr '\n' ' ')" = "$(xlua xenstore-list $d | tr '\n' ' ')" ] ||
    { fail "xenstore-list $d differs"; t xl destroy xsg; return 1; }
  t xlua xenstore-write $d/data/xlua hello && [ "$(xenstore-read $d/data/xlua)" = hello ] ||
    { fail "xenstore-read does not see what xlua xenstore-write wrote"; t xl destroy xsg; return 1; }
  xenstore-write $d/data/real 'a b' && [ "$(xlua xenstore-read $d/data/real)" = 'a b' ] ||
    { fail "xlua xenstore-read does not see what xenstore-write wrote"; t xl destroy xsg; return 1; }
  xenstore-read $d/data/missing >/dev/null 2>&1; r1=$?
  xlua xenstore-read $d/data/missing >/dev/null 2>&1; r2=$?
  [ $r1 = $r2 ] || { fail "read of a missing path: xenstore-read exits $r1, xlua $r2"; t xl destroy xsg; return 1; }
  # a watch set by xlua sees the real tool's write
  t xlua xenstore-watch -n 2 --timeout 60 $d/data/w >/tmp/w.out 2>&1 &
  wpid=$!
  i=0; while [ $i -lt 100 ] && ! grep -q data/w /tmp/w.out; do sleep 0.1; i=$((i + 1)); done
  xenstore-write $d/data/w/x 1
  wait $wpid
  [ "$(cat /tmp/w.out | tr '\n' ' ')" = "$d/data/w $d/data/w/x " ] ||
    { cat /tmp/w.out; fail "xlua xenstore-watch saw '$(cat /tmp/w.out | tr '\n' ' ')'"; t xl destroy xsg; return 1; }
  # xlua.xs: a transaction, read back by xenstore-read; rm by xlua
  t xlua -e "
    local xs = require('xlua.xs')
    local c = assert(xs.open())
    assert(xs.domain_path($id) == '$d')
    assert(c:transaction(function(t) assert(t:write('$d/data/tx/a', '1')); assert(t:write('$d/data/tx/b', '2')) end))
    local seen = {}
    for p in c:watch('$d/data/tx', { timeout = 5000, count = 2 }) do
      seen[#seen + 1] = p
      if #seen == 1 then assert(c:rm('$d/data/tx/a')) end
    end
    assert(seen[2] == '$d/data/tx/a', tostring(seen[2]))" ||
    { fail "xlua.xs transaction or watch failed"; t xl destroy xsg; return 1; }
  [ "$(xenstore-read $d/data/tx/b)" = 2 ] && ! xenstore-read $d/data/tx/a >/dev/null 2>&1 ||
    { fail "xenstore-read does not see xlua.xs's transaction and rm"; t xl destroy xsg; return 1; }
  t xlua xenstore-rm -t $d/data/tx/b || { fail "xlua xenstore-rm failed"; t xl destroy xsg; return 1; }
  ! xenstore-read $d/data/tx >/dev/null 2>&1 || { fail "xenstore-rm -t left $d/data/tx"; t xl destroy xsg; return 1; }
  t xl destroy xsg
  DETAIL="read, write, ls -p, list, rm -t, watch and a transaction agree with xenstore-utils on $d"
}

# ---- xlua: runtime changes, the stored config kept true (issue 15) -------------------------

xr_id() { xl_col xr 2; }

c_xlua_runtime_create() {
  need_xlua create mem-set vcpu-set block-attach block-list || return $?
  t xlua create $T/configs/guest-r.cfg || { fail "xlua create guest-r.cfg failed"; return 1; }
  n=$(wait_alive xr 0 120) || { fail "xr: $n"; return 1; }
  DETAIL="xr alive ($n)"
}

c_xlua_runtime_mem_set() {
  needs xlua.runtime.create || return 77
  t xlua mem-set xr 96m || { fail "xlua mem-set xr 96m failed"; return 1; }
  tg=$(xenstore-read "/local/domain/$(xr_id)/memory/target")
  [ "$tg" = 98304 ] || { fail "memory/target is '$tg', expected 98304"; return 1; }
  t xlua config --json xr | grep -q '"target_memkb": 98304' ||
    { fail "xlua config --json does not show target_memkb 98304"; return 1; }
  if t xlua mem-set xr 1g 2>/tmp/mem-set.err; then fail "mem-set above maxmem succeeded"; return 1; fi
  [ "$(wc -l </tmp/mem-set.err)" = 1 ] || { fail "refusal is not one line: $(cat /tmp/mem-set.err)"; return 1; }
  tg=$(xenstore-read "/local/domain/$(xr_id)/memory/target")
  [ "$tg" = 98304 ] || { fail "a refused mem-set changed memory/target to '$tg'"; return 1; }
  DETAIL="target 98304 KiB in xenstore and the stored config; 1g refused"
}

c_xlua_runtime_vcpu_set() {
  needs xlua.runtime.create || return 77
  t xlua vcpu-set xr 2 || { fail "xlua vcpu-set xr 2 failed"; return 1; }
  a=$(xenstore-read "/local/domain/$(xr_id)/cpu/1/availability")
  [ "$a" = online ] || { fail "cpu/1/availability is '$a'"; return 1; }
  t xlua config --json xr | tr -d ' \n' | grep -q '"avail_vcpus":\[0,1\]' ||
    { fail "xlua config --json does not show avail_vcpus [0, 1]"; return 1; }
  if t xlua vcpu-set xr 3 2>/dev/null; then fail "vcpu-set above maxvcpus succeeded"; return 1; fi
  DETAIL="vcpu 1 online; 3 refused"
}

c_xlua_runtime_block_attach() {
  needs xlua.runtime.create || return 77
  t xlua block-attach xr "format=raw, vdev=xvdb, access=rw, script=$T/block-ram, target=/dev/ram3" ||
    { fail "xlua block-attach failed"; return 1; }
  t xl block-list xr >/tmp/bl.xl || { fail "xl block-list failed"; return 1; }
  t xlua block-list xr >/tmp/bl.xlua || { fail "xlua block-list failed"; return 1; }
  diff /tmp/bl.xl /tmp/bl.xlua || { fail "xlua block-list differs from xl block-list"; return 1; }
  grep -q '^51728 ' /tmp/bl.xlua || { fail "no xvdb (51728) in block-list"; return 1; }
  t xlua config --json xr | grep -q '"vdev": "xvdb"' ||
    { fail "xlua config --json does not show xvdb"; return 1; }
  if t xlua block-attach xr "format=raw, vdev=xvdb, access=rw, script=$T/block-ram, target=/dev/ram3" 2>/dev/null; then
    fail "a second xvdb was attached"; return 1
  fi
  DETAIL="block-list as xl's: $(wc -l </tmp/bl.xlua) lines"
}

c_xlua_runtime_mem_max() {
  needs xlua.runtime.mem-set || return 77
  t xlua mem-max xr 256m || { fail "xlua mem-max xr 256m failed"; return 1; }
  m=$(xenstore-read "/local/domain/$(xr_id)/memory/static-max")
  [ "$m" = 262144 ] || { fail "memory/static-max is '$m', expected 262144"; return 1; }
  t xlua config --json xr | grep -q '"max_memkb": 262144' ||
    { fail "xlua config --json does not show max_memkb 262144"; return 1; }
  if t xlua mem-max xr 64m 2>/dev/null; then fail "mem-max below the target succeeded"; return 1; fi
  DETAIL="static-max 262144 KiB; below the target refused"
}

# xl vcpu-list without its Time(s) column (it moves between the two calls).
# vcpu-list of xr without what changes between two calls: where each vcpu runs now, its state,
# its time (the pin itself shows in the affinity column).
vcpus_of() { "$@" xr | awk '{ $4 = ""; $5 = ""; $6 = ""; print }'; }

c_xlua_runtime_vcpu_pin() {
  needs xlua.runtime.vcpu-set || return 77
  need_cmds vcpu-pin vcpu-list || return 77
  t xlua vcpu-pin xr 1 1 || { fail "xlua vcpu-pin xr 1 1 failed"; return 1; }
  vcpus_of t xl vcpu-list >/tmp/vl.xl || { fail "xl vcpu-list failed"; return 1; }
  vcpus_of t xlua vcpu-list >/tmp/vl.xlua || { fail "xlua vcpu-list failed"; return 1; }
  diff /tmp/vl.xl /tmp/vl.xlua || { fail "xlua vcpu-list differs from xl vcpu-list"; return 1; }
  grep -q ' 1 / all$' /tmp/vl.xlua || { fail "vcpu 1 is not pinned to cpu 1"; return 1; }
  if t xlua vcpu-pin xr 0 64 2>/dev/null; then fail "a pin to cpu 64 succeeded"; return 1; fi
  DETAIL="vcpu-list as xl's (but where and how each vcpu runs now); cpu 64 refused"
}

c_xlua_runtime_sched() {
  needs xlua.runtime.create || return 77
  need_cmds sched-credit2 || return 77
  t xlua sched-credit2 -d xr -w 512 || { fail "xlua sched-credit2 -w 512 failed"; return 1; }
  t xl sched-credit2 -d xr >/tmp/sc.xl || { fail "xl sched-credit2 failed"; return 1; }
  t xlua sched-credit2 -d xr >/tmp/sc.xlua || { fail "xlua sched-credit2 failed"; return 1; }
  diff /tmp/sc.xl /tmp/sc.xlua || { fail "xlua sched-credit2 differs from xl's"; return 1; }
  grep -q ' 512 ' /tmp/sc.xlua || { fail "weight is not 512"; return 1; }
  t xlua config --json xr | tr -d ' \n' | grep -q '"weight":512' ||
    { fail "xlua config --json does not show weight 512"; return 1; }
  DETAIL="$(tail -n 1 /tmp/sc.xlua)"
}

c_xlua_runtime_save_restore() {
  needs xlua.runtime.mem-set xlua.runtime.vcpu-set xlua.runtime.block-attach || return 77
  at=$(last_alive xr)
  t xlua save xr /tmp/xr.save || { fail "xlua save xr failed"; return 1; }
  t xlua inspect /tmp/xr.save >/tmp/xr.inspect || { fail "xlua inspect failed"; return 1; }
  grep -q '"target_memkb": 98304' /tmp/xr.inspect || { fail "the savefile lacks target 98304"; return 1; }
  grep -q '"vdev": "xvdb"' /tmp/xr.inspect || { fail "the savefile lacks xvdb"; return 1; }
  t xlua restore /tmp/xr.save || { fail "xlua restore failed"; return 1; }
  continues xr "$at" || return 1
  id=$(xr_id)
  tg=$(xenstore-read "/local/domain/$id/memory/target")
  [ "$tg" = 98304 ] || { fail "restored memory/target is '$tg'"; return 1; }
  a=$(xenstore-read "/local/domain/$id/cpu/1/availability")
  [ "$a" = online ] || { fail "restored cpu/1/availability is '$a'"; return 1; }
  t xl block-list xr | grep -q '^51728 ' || { fail "restored xr has no xvdb"; return 1; }
  t xlua config xr | grep -q 'changed at runtime' || { fail "xlua config lost the note"; return 1; }
  t xl destroy xr
  rm -f /tmp/xr.save
  DETAIL="restored with target 98304, 2 vcpus, xvdb"
}

# ---- xlua migrate / migrate-receive on one host (-s '': HOST is the receiving command) ---------

# A migrated guest is created as NAME--incoming: xenconsoled names its console log then, so the
# counting goes on in guest-NAME--incoming.log (appended to by every later migration, so the
# old copy may have written there too while it ran). Once the migration returned the old copy
# is gone: only a line above what the log holds then proves the new copy runs.
migrated_continues() {
  local n at
  exists "$1" || { fail "$1 is not in xl list after the migration"; return 1; }
  ! exists "$1--incoming" && ! exists "$1--migratedaway" || { fail "a temporary name stayed"; return 1; }
  at=$(last_alive "$1--incoming")
  [ "$at" -gt "$2" ] || at=$2
  n=$(wait_alive "$1--incoming" "$at" 60) ||
    { fail "$1 console did not continue after GUEST-ALIVE $at"; return 1; }
  DETAIL="$DETAIL console went on from $2 to $n;"
}

# The counter xm is at now, wherever its console log is.
xm_alive() {
  local a b
  a=$(last_alive xm) b=$(last_alive xm--incoming)
  [ "$a" -gt "$b" ] && echo "$a" || echo "$b"
}

# The baseline: xl to xl. Live migration needs the hypervisor's log-dirty mode: Debian's Xen
# 4.17 has no shadow paging, so only a PVH guest on HAP can migrate, and QEMU's default CPU has
# no nested paging (XLUA_XEN_CPU=qemu64,+svm,+npt gives it). Without HAP, or when xl cannot
# migrate, the xlua checks below are skipped rather than failed.
c_xl_migrate() {
  xl info | grep -E '^virt_caps'
  xl info | grep -q '^virt_caps.*hap' || {
    DETAIL="no HAP in this Xen (and no shadow paging): nothing can migrate live here; XLUA_XEN_CPU=qemu64,+svm,+npt gives HAP"
    return 77
  }
  t xl create $T/configs/guest-m.cfg || { fail "xl create guest-m.cfg failed"; return 1; }
  # well up (its drivers answering) before it is asked to suspend
  n=$(wait_alive xm 4 120) || { fail "xm: $n"; return 1; }
  id=$(xl_col xm 2)
  timed xl.migrate t xl migrate -s '' xm "xl migrate-receive -e" ||
    { fail "xl migrate to xl migrate-receive failed"; return 1; }
  [ "$(xl_col xm 2)" != "$id" ] || { fail "xm still has domid $id"; return 1; }
  migrated_continues xm "$n"
}

c_xlua_migrate() {
  needs xl.migrate || return 77
  need_xlua migrate migrate-receive || return $?
  n=$(xm_alive)
  id=$(xl_col xm 2) count=$(domain_count)
  timed xlua.migrate t xlua migrate -e -s '' xm "xlua migrate-receive -e" >/tmp/migrate.out 2>&1
  rc=$?
  cat /tmp/migrate.out
  [ "$rc" = 0 ] || { fail "xlua migrate to xlua migrate-receive exited $rc"; return 1; }
  grep -q "stream verified end to end" /tmp/migrate.out || { fail "the stream was not verified"; return 1; }
  [ "$(xl_col xm 2)" != "$id" ] || { fail "xm still has domid $id"; return 1; }
  [ "$(domain_count)" = "$count" ] || { fail "the domain count changed from $count"; return 1; }
  migrated_continues xm "$n"
}

c_xlua_migrate_refused() {
  needs xlua.migrate || return 77
  at=$(xm_alive) count=$(domain_count) id=$(xl_col xm 2)
  t xlua migrate -e -C $T/configs/guest-m-memory.cfg -s '' xm "xlua migrate-receive -e" \
    >/tmp/refused.out 2>&1
  rc=$?
  cat /tmp/refused.out
  [ "$rc" = 1 ] || { fail "a migration the receiver must refuse exited $rc, expected 1"; return 1; }
  grep -q "incompatible" /tmp/refused.out || { fail "no compatibility report"; return 1; }
  [ "$(xl_col xm 2)" = "$id" ] && [ "$(domain_count)" = "$count" ] ||
    { fail "xm moved or a domain was left behind"; return 1; }
  n=$(wait_alive xm--incoming "$at" 30) || n=$(wait_alive xm "$at" 30) ||
    { fail "xm stopped counting at $at"; return 1; }
  DETAIL="refused, xm went on from $at to $n"
}

c_interop_xl_migrates_to_xlua() {
  needs xlua.migrate || return 77
  at=$(xm_alive) id=$(xl_col xm 2)
  timed xl.migrate t xl migrate -s '' xm "xlua migrate-receive -e" ||
    { fail "xl migrate to xlua migrate-receive failed"; return 1; }
  [ "$(xl_col xm 2)" != "$id" ] || { fail "xm still has domid $id"; return 1; }
  migrated_continues xm "$at"
}

c_interop_xlua_migrates_to_xl() {
  needs xlua.migrate || return 77
  at=$(xm_alive) id=$(xl_col xm 2)
  t xlua migrate --answer-wait 1 -s '' xm "xl migrate-receive -e" >/tmp/toxl.out 2>&1
  rc=$?
  cat /tmp/toxl.out
  [ "$rc" = 0 ] || { fail "xlua migrate to xl migrate-receive exited $rc"; return 1; }
  [ "$(xl_col xm 2)" != "$id" ] || { fail "xm still has domid $id"; return 1; }
  migrated_continues xm "$at" || return 1
  t xlua destroy xm || { fail "xlua destroy xm failed"; return 1; }
}

# ---- benchmark: xl against xlua save/restore (./dev.sh bench xen) --------------------------

# secs_of CMD...: run it, print the seconds it took (uptime's 10 ms ticks) on stdout.
secs_of() { _b=$(now); "$@" >/dev/null 2>&1 || return 1; awk -v a="$_b" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# The same 256 MiB guest, the same boot, xl and xlua alternating (the side that goes first
# alternates too); the file in dom0's /tmp. Also timed: the fixed cost of starting each tool
# (what neither save nor restore can avoid), so the table can say what the ratio is made of.
bench_xl() {
  s=$(secs_of t xl save xbench /tmp/bench.save) || { fail "xl save failed"; return 1; }; xs="$xs $s"
  s=$(secs_of t xl restore -e /tmp/bench.save) || { fail "xl restore failed"; return 1; }; xr="$xr $s"
  rm -f /tmp/bench.save
}
bench_xlua() {
  s=$(secs_of t xlua save xbench /tmp/bench.save) || { fail "xlua save failed"; return 1; }; ls="$ls $s"
  s=$(secs_of t xlua restore -e /tmp/bench.save) || { fail "xlua restore failed"; return 1; }; lr="$lr $s"
  s=$(secs_of t xlua verify /tmp/bench.save) || { fail "xlua verify failed"; return 1; }; lv="$lv $s"
  rm -f /tmp/bench.save
}
c_bench_save_restore() {
  t xlua create -e $T/configs/bench-guest.cfg || { fail "xlua create of xbench failed"; return 1; }
  wait_alive xbench 0 120 >/dev/null || { fail "xbench did not boot"; return 1; }
  xs="" xr="" ls="" lr="" lv=""
  for round in 1 2 3 4 5; do
    if [ $((round % 2)) = 1 ]; then
      bench_xl && bench_xlua || return 1
    else
      bench_xlua && bench_xl || return 1
    fi
    echo "XLUA-TIME bench.round$round.xl.save ${xs##* }" >&3
    echo "XLUA-TIME bench.round$round.xl.restore ${xr##* }" >&3
    echo "XLUA-TIME bench.round$round.xlua.save ${ls##* }" >&3
    echo "XLUA-TIME bench.round$round.xlua.restore ${lr##* }" >&3
  done
  running xbench || return 1
  t xl destroy xbench
  st_xl=$(secs_of xl list) st_xlua=$(secs_of xlua list)
  best() { echo $1 | tr ' ' '\n' | sort -n | head -n 1; }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
  rs=$(ratio "$(best "$ls")" "$(best "$xs")") rr=$(ratio "$(best "$lr")" "$(best "$xr")")
  echo "XLUA-INFO bench: save xl$xs xlua$ls ratio $rs (target <= 1.05); restore xl$xr xlua$lr ratio $rr (target <= 1.05); fixed cost: xl list $st_xl s, xlua list $st_xlua s; the trailer's hash alone (xlua verify of the file):$lv" >&3
  DETAIL="save ratio $rs, restore ratio $rr (best of 5; target 1.05); list: xl $st_xl s, xlua $st_xlua s; verify $(best "$lv") s"
}

# ---- run ---------------------------------------------------------------------------------------

echo "XLUA-INFO xlua $(xlua --version 2>&1); commands: $(xlua --help 2>/dev/null | awk '/^Commands/ { on = 1; next } on && NF { printf "%s ", $1 }')"

check xl.info c_xl_info
check xl.create c_xl_create
check xl.list c_xl_list
check xl.save c_xl_save
check xl.restore c_xl_restore
check xl.disk c_xl_disk
check xl.destroy c_xl_destroy

check xlua.backend c_xlua_backend
check xlua.create.xlcfg c_xlua_create_xlcfg
check xlua.create.luacfg c_xlua_create_luacfg
check xlua.list c_xlua_list
check xlua.console c_xlua_console
check xlua.save c_xlua_save
check xlua.inspect c_xlua_inspect
check xlua.verify c_xlua_verify
check xlua.restore c_xlua_restore
check xlua.save.checkpoint c_xlua_save_checkpoint
check xlua.save.paused c_xlua_save_paused
check xlua.save.compressed c_xlua_save_compressed
check xlua.save.pipe c_xlua_save_pipe
check xlua.save.sigterm c_xlua_save_sigterm
check xlua.restore.uuid c_xlua_restore_uuid
check xlua.monitor.crash c_xlua_monitor_crash
check xlua.monitor.reboot c_xlua_monitor_reboot
check xlua.hostsave c_xlua_hostsave

check interop.inspect-xl c_interop_inspect_xl
check interop.verify-xl c_interop_verify_xl
check xl.restore.memory c_xl_restore_memory
check xl.restore.vcpus c_xl_restore_vcpus
check interop.xlua-restores-xl c_interop_xlua_restores_xl
check interop.xl-restores-xlua c_interop_xl_restores_xlua

check xlua.compat.save c_xlua_compat_save
check xlua.restore.move-target c_xlua_restore_move_target
check xlua.restore.refuse-memory c_xlua_restore_refuse_memory
check xlua.restore.refuse-vcpus c_xlua_restore_refuse_vcpus
check xlua.restore.force-memory c_xlua_restore_force_memory
check xlua.restore.force-vcpus c_xlua_restore_force_vcpus
check xlua.compat.restore c_xlua_compat_restore

check timing.xl-vs-xlua c_timing

check xlua.pause c_xlua_pause
check xlua.unpause c_xlua_unpause
check xlua.rename c_xlua_rename
check xlua.destroy c_xlua_destroy

check convert.xl-vs-xlua c_convert

check xlua.info c_xlua_info
check xlua.xenstore c_xlua_xenstore

check xlua.runtime.create c_xlua_runtime_create
check xlua.runtime.mem-set c_xlua_runtime_mem_set
check xlua.runtime.vcpu-set c_xlua_runtime_vcpu_set
check xlua.runtime.block-attach c_xlua_runtime_block_attach
check xlua.runtime.mem-max c_xlua_runtime_mem_max
check xlua.runtime.vcpu-pin c_xlua_runtime_vcpu_pin
check xlua.runtime.sched c_xlua_runtime_sched
check xlua.runtime.save-restore c_xlua_runtime_save_restore

check xl.migrate c_xl_migrate
check xlua.migrate c_xlua_migrate
check xlua.migrate.refused c_xlua_migrate_refused
check interop.xl-migrates-to-xlua c_interop_xl_migrates_to_xlua
check interop.xlua-migrates-to-xl c_interop_xlua_migrates_to_xl

check bench.save-restore c_bench_save_restore

#!/usr/bin/env bash
# Real Xen in the test suite: boots Xen 4.17 and a Debian dom0 under QEMU (TCG), runs
# spec/xen/dom0-tests.sh inside dom0 and reports each check it printed on the serial console.
#
#   spec/xen/run.sh                      install, build (./dev.sh build), image, boot, report
#   XLUA_BUILD_DIR=DIR spec/xen/run.sh   the build dir to use (default: build)
#   XLUA_XEN_NO_BUILD=1                  take the build dir as it is (ctest sets this)
#   XLUA_XEN_WORK=DIR                    the image cache (default: BUILD/xen), reused when present
#   XLUA_XEN_TIMEOUT=SECONDS             hard limit for the QEMU run (default 1500: a loaded
#                                        2-core machine took 880 s where an idle one takes 300)
#   XLUA_XEN_ONLY="xl.* xlua.save*"      run only the checks matching these shell patterns
#
# Exit status: 0 when every check passed or was skipped, 1 when one failed, the run timed out
# or dom0 did not finish, 2 when the harness itself could not be set up.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${XLUA_BUILD_DIR:-$SRC/build}
case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
WORK=${XLUA_XEN_WORK:-$BUILD/xen}
TIMEOUT=${XLUA_XEN_TIMEOUT:-1500}
XENVER=4.17
XENBIN=/usr/lib/xen-$XENVER/bin

HOST_PACKAGES=(qemu-system-x86 xen-utils-$XENVER xenstore-utils busybox-static xxd cpio kmod
               lua-cjson liblua5.4-0 libreadline8 libzstd1 libxxhash0)
# Lua packages whose files go into dom0 beside the xlua tree (xlua finds them in the system dirs).
LUA_PACKAGES=(lua-cjson)
# Xen's own tools in dom0, at the paths libxl has compiled in.
XEN_TOOLS=(xl xenstored xen-init-dom0 xenconsoled xenconsole libxl-save-helper)
DOM0_MODULES=(xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-blkback brd)

say() { printf 'xen-harness: %s\n' "$*"; }
die() { printf 'xen-harness: %s\n' "$*" >&2; exit 2; }
now() { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_host_packages() {
  local missing=() p
  for p in "${HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  as_root apt-get update -q
  # xen-utils' postinst says "Can't find hypervisor information in sysfs!" here and exits 0.
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The hypervisor and the kernel are downloaded, never installed: no bootloader or initramfs
# hooks run on the host. Cached in WORK/debs; a newer kernel in the mirror replaces the old one.
fetch_debs() {
  mkdir -p "$WORK/debs"
  local kpkg
  kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }') || true
  if [ -z "$kpkg" ]; then
    as_root apt-get update -q >/dev/null
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
  fi
  [ -n "$kpkg" ] || die "apt-cache names no kernel for linux-image-amd64"
  local want=("xen-hypervisor-$XENVER-amd64" "$kpkg") pkg
  for pkg in "${want[@]}"; do
    if ! compgen -G "$WORK/debs/${pkg}_*.deb" >/dev/null; then
      say "downloading $pkg"
      # _apt cannot write into a root-owned build dir; download in a temp dir it can use.
      local tmp
      tmp=$(mktemp -d)
      chmod 777 "$tmp"
      (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
        { as_root apt-get update -q >/dev/null && (cd "$tmp" && apt-get download -q "$pkg"); }
      mv "$tmp"/*.deb "$WORK/debs/"
      rmdir "$tmp"
    fi
  done
  # Drop debs no longer wanted (an older kernel), so the cache stays one of each.
  local deb keep
  for deb in "$WORK"/debs/*.deb; do
    keep=0
    for pkg in "${want[@]}"; do
      case $(basename "$deb") in "${pkg}"_*) keep=1 ;; esac
    done
    [ $keep -eq 1 ] || rm -f "$deb"
  done
}

unpack_debs() {
  local stamp="$WORK/pkgroot.stamp" have
  have=$(cd "$WORK/debs" && ls ./*.deb | sort | tr '\n' ' ')
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$have" ]; then return 0; fi
  rm -rf "$WORK/pkgroot"
  mkdir -p "$WORK/pkgroot"
  local deb
  for deb in "$WORK"/debs/*.deb; do dpkg-deb -x "$deb" "$WORK/pkgroot"; done
  KVER=$(ls "$WORK/pkgroot/lib/modules")
  depmod -b "$WORK/pkgroot" "$KVER"
  gunzip -c "$WORK"/pkgroot/boot/xen-$XENVER-amd64.gz >"$WORK/xen"
  cp "$WORK/pkgroot/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
  printf '%s' "$have" >"$stamp"
}

# put SRC DEST: copy a file, replacing whatever DEST is (a busybox link must not be written
# through).
put() {
  mkdir -p "$(dirname "$2")"
  rm -f "$2"
  cp -L "$1" "$2"
}

# add_libs ROOT FILE...: every library the dynamic loader would load for FILE, at its path.
add_libs() {
  local root=$1 lib dir
  shift
  for lib in $(ldd "$@" 2>/dev/null | awk '/=> \// { print $3 } /^[ \t]*\/.*ld-linux/ { print $1 }' | sort -u); do
    dir=$(realpath "$(dirname "$lib")")
    [ -e "$root$dir/$(basename "$lib")" ] || put "$lib" "$root$dir/$(basename "$lib")"
  done
}

# A merged-/usr skeleton with busybox and its applet links.
skeleton() {
  local root=$1 applet
  rm -rf "$root"
  mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,proc,sys,dev,run,tmp,etc,root}
  ln -s usr/bin "$root/bin"
  ln -s usr/sbin "$root/sbin"
  ln -s usr/lib "$root/lib"
  ln -s usr/lib64 "$root/lib64"
  mkdir -p "$root/var/lib" "$root/var/log"
  ln -s ../run "$root/var/run"
  ln -s ../run/lock "$root/var/lock"
  cp /bin/busybox "$root/usr/bin/busybox"
  for applet in $(/bin/busybox --list-full); do
    [ -e "$root/$applet" ] || ln -s /usr/bin/busybox "$root/$applet"
  done
}

cpio_of() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet); }

# The base image: busybox, Xen's tools and their libraries, kernel modules, the guest kernel.
# Everything here changes only with Debian's packages, so it is built once and cached.
build_base() {
  local stamp_want stamp="$WORK/base.stamp"
  stamp_want=$( {
    cat "$WORK/pkgroot.stamp"
    dpkg-query -W xen-utils-$XENVER xenstore-utils busybox-static libc6 libgcc-s1
    cat "${BASH_SOURCE[0]}"
  } | sha256sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_want" ] && [ -f "$WORK/base.cpio.gz" ]; then
    return 0
  fi
  local root="$WORK/base-root" t m f
  skeleton "$root"
  for t in "${XEN_TOOLS[@]}"; do put "$XENBIN/$t" "$root$XENBIN/$t"; done
  for f in /usr/bin/xenstore /usr/bin/xenstore-*; do put "$f" "$root$f"; done
  mkdir -p "$root/etc/xen"
  cp -r /etc/xen/xl.conf /etc/xen/scripts "$root/etc/xen/"
  add_libs "$root" "${XEN_TOOLS[@]/#/$XENBIN/}" /usr/bin/xenstore
  # glibc dlopens libgcc_s for pthread_cancel; ldd cannot see it (trap 3).
  put /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 "$root/usr/lib/x86_64-linux-gnu/libgcc_s.so.1"
  KVER=$(ls "$WORK/pkgroot/lib/modules")
  mkdir -p "$root/lib/modules/xen"
  for m in "${DOM0_MODULES[@]}"; do
    f=$(find "$WORK/pkgroot/lib/modules/$KVER" -name "$m.ko" | head -1)
    [ -n "$f" ] || die "module $m.ko not found in $KVER"
    cp "$f" "$root/lib/modules/xen/"
  done
  # The guest: the same kernel as a PV kernel.
  mkdir -p "$root/xen-tests"
  cp "$WORK/vmlinuz" "$root/xen-tests/vmlinuz"
  cpio_of "$root" | gzip -1 >"$WORK/base.cpio.gz.tmp"
  mv "$WORK/base.cpio.gz.tmp" "$WORK/base.cpio.gz"
  printf '%s' "$stamp_want" >"$stamp"
}

# The guest's initramfs: busybox, an init that prints a counter on its console, and the
# /sbin/poweroff and /sbin/reboot the kernel runs when dom0 asks it to shut down or reboot.
build_guest() {
  local root="$WORK/guest-root"
  rm -rf "$root"
  mkdir -p "$root"/{bin,sbin,proc,sys,dev}
  cp /bin/busybox "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"
  put "$HERE/guest-init" "$root/init"
  printf '#!/bin/sh\necho GUEST-POWEROFF\necho o >/proc/sysrq-trigger\n' >"$root/sbin/poweroff"
  printf '#!/bin/sh\necho GUEST-REBOOT\necho b >/proc/sysrq-trigger\n' >"$root/sbin/reboot"
  chmod 755 "$root/init" "$root/sbin/poweroff" "$root/sbin/reboot"
  cpio_of "$root" | gzip -1 >"$WORK/guest.cpio.gz"
}

# The overlay, rebuilt every run: the installed xlua tree, its run-time libraries, the checks.
build_overlay() {
  local root="$WORK/overlay-root" pkg f
  rm -rf "$root" "$WORK/stage"
  cmake --install "$BUILD" --prefix "$WORK/stage" >/dev/null
  mkdir -p "$root/opt" "$root/xen-tests"
  cp -a "$WORK/stage" "$root/opt/xlua"
  for pkg in "${LUA_PACKAGES[@]}"; do
    dpkg -L "$pkg" | while read -r f; do
      case $f in
        */lua/5.4/*|*liblua5.4-*) [ -f "$f" ] && put "$f" "$root$f" ;;
      esac
    done
  done
  # lib/xlua: the modules xlua loads on first use (the libxl backend, libxlutil's parsers).
  add_libs "$root" "$root/opt/xlua/bin/xlua" $(find "$root/usr/lib" "$root/opt/xlua/lib" \
    -name '*.so' 2>/dev/null)
  put "$HERE/dom0-init" "$root/init"
  chmod 755 "$root/init"
  cp "$HERE/dom0-tests.sh" "$HERE/block-ram" "$root/xen-tests/"
  chmod 755 "$root/xen-tests/block-ram"
  cp -r "$HERE/configs" "$HERE/lua" "$root/xen-tests/"
  cp "$WORK/guest.cpio.gz" "$root/xen-tests/guest.cpio.gz"
  printf '%s\n' "${XLUA_XEN_ONLY:-}" >"$root/xen-tests/only"
  cpio_of "$root" | gzip -1 >"$WORK/overlay.cpio.gz"
  # Linux unpacks concatenated archives in order; later files win.
  cat "$WORK/base.cpio.gz" "$WORK/overlay.cpio.gz" >"$WORK/dom0.cpio.gz"
}

# Boot Xen with dom0 under QEMU (TCG: trap 1; smap=0 for -cpu max: trap 2) and follow the
# serial log until QEMU exits or the time is up. The CPU is qemu64,+svm, not max: with -cpu max
# (AVX and wider vector state) dom0 processes saw their data change under them now and then
# (savefiles whose bytes no longer matched the hash computed while writing them; busybox
# crashing at the same address), in most runs; with qemu64 every run passed. +npt gives Xen
# nested paging (HAP): Debian's Xen has no shadow paging, so without it there is no log-dirty
# mode and no live migration (xl migrate fails too), and no PVH guest. XLUA_XEN_CPU chooses
# another model.
boot() {
  local log="$WORK/serial.log" qpid start seen=0 line up_at="" n
  : >"$log"
  # dom0's watchdog fires a minute before the host gives up (see dom0-init).
  local deadline=$((TIMEOUT > 120 ? TIMEOUT - 60 : TIMEOUT / 2))
  start=$(now)
  qemu-system-x86_64 -accel tcg,thread=multi -cpu "${XLUA_XEN_CPU:-qemu64,+svm,+npt}" -m 3072 -smp 2 \
    -nographic -no-reboot -monitor none -serial stdio -nic none \
    -kernel "$WORK/xen" \
    -append 'console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M loglvl=all guest_loglvl=all smap=0' \
    -initrd "$WORK/vmlinuz console=hvc0 earlyprintk=xen rdinit=/init loglevel=4 xlua_deadline=$deadline,$WORK/dom0.cpio.gz" \
    </dev/null >"$log" 2>&1 &
  qpid=$!
  QEMU_STATUS=timeout
  while :; do
    if ! kill -0 "$qpid" 2>/dev/null; then
      wait "$qpid" && QEMU_STATUS=exited || QEMU_STATUS="exited with status $?"
      break
    fi
    if [ "$(since "$start" | cut -d. -f1)" -ge "$TIMEOUT" ]; then
      say "TIMEOUT after ${TIMEOUT}s: stopping QEMU (pid $qpid)"
      kill -TERM "$qpid" 2>/dev/null || true
      for n in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 1; done
      kill -KILL "$qpid" 2>/dev/null || true
      wait "$qpid" 2>/dev/null || true
      QEMU_STATUS=timeout
      break
    fi
    # Show progress: every marker line, as it arrives.
    n=$(wc -l <"$log")
    if [ "$n" -gt "$seen" ]; then
      while IFS= read -r line; do
        line=${line//$'\r'/}
        case $line in
          *XLUA-DOM0-UP*) [ -n "$up_at" ] || up_at=$(since "$start"); say "dom0 up after ${up_at}s" ;;
          *XLUA-CHECK\ *) printf '  %s\n' "${line#*XLUA-CHECK }" ;;
        esac
      done < <(sed -n "$((seen + 1)),${n}p" "$log")
      seen=$n
    fi
    sleep 0.5
  done
  BOOT_SECONDS=${up_at:-?}
  RUN_SECONDS=$(since "$start")
}

report() {
  local log="$WORK/serial.log"
  tr -d '\r' <"$log" >"$log.txt"
  local pass=0 fail=0 skip=0 name status secs detail
  echo
  printf '%-34s %-5s %8s  %s\n' CHECK RESULT SECONDS DETAIL
  while read -r name status secs detail; do
    printf '%-34s %-5s %8s  %s\n' "$name" "$status" "$secs" "$detail"
    case $status in PASS) pass=$((pass + 1)) ;; FAIL) fail=$((fail + 1)) ;; SKIP) skip=$((skip + 1)) ;; esac
  done < <(sed -n 's/.*XLUA-CHECK \([^ ]*\) \(PASS\|FAIL\|SKIP\) \(.*\)$/\1 \2 \3/p' "$log.txt")
  if grep -q 'XLUA-TIME ' "$log.txt"; then
    echo
    printf '%-34s %8s\n' TIMING SECONDS
    sed -n 's/.*XLUA-TIME \([^ ]*\) \([^ ]*\).*/\1 \2/p' "$log.txt" |
      while read -r name secs; do printf '%-34s %8s\n' "$name" "$secs"; done
  fi
  if grep -q 'XLUA-INFO ' "$log.txt"; then
    echo
    sed -n 's/.*XLUA-INFO \(.*\)/\1/p' "$log.txt"
  fi
  # Each failed check: what dom0 printed while it ran (command output, guest console,
  # dmesg and xl dmesg tails).
  for name in $(sed -n 's/.*XLUA-CHECK \([^ ]*\) FAIL .*/\1/p' "$log.txt"); do
    echo
    echo "---- $name failed; dom0 printed: ----"
    awk -v n="$name" '
      index($0, "XLUA-BEGIN " n) { on = 1; next }
      index($0, "XLUA-CHECK " n " ") { on = 0 }
      on' "$log.txt" | tail -n 80
  done
  local finished=0
  grep -q 'XLUA-DONE' "$log.txt" && finished=1
  if [ $finished -eq 0 ]; then
    fail=$((fail + 1))
    echo
    local step
    step=$(sed -n 's/.*XLUA-BEGIN \([^ ]*\).*/\1/p' "$log.txt" | tail -1)
    if grep -q XLUA-WATCHDOG "$log.txt"; then
      echo "---- TIMEOUT: dom0's watchdog fired (a minute before the host's ${TIMEOUT}s); the step running was: $step ----"
    elif [ "$QEMU_STATUS" = timeout ]; then
      echo "---- TIMEOUT after ${TIMEOUT}s; the step running was: $step ----"
    else
      echo "---- dom0 did not finish (QEMU $QEMU_STATUS); the step running was: $step ----"
    fi
    echo "---- last lines of the serial console (Xen and dom0): ----"
    if grep -q XLUA-WATCHDOG "$log.txt"; then
      sed -n '/XLUA-WATCHDOG/,$p' "$log.txt" | head -n 120
    else
      tail -n 60 "$log.txt"
    fi
  fi
  echo
  say "image ${IMAGE_SECONDS}s, dom0 up after ${BOOT_SECONDS}s, QEMU ran ${RUN_SECONDS}s; serial log: $log.txt"
  echo "$pass passed, $fail failed, $skip skipped"
  [ $fail -eq 0 ]
}

main() {
  if [ "${XLUA_XEN_NO_BUILD:-0}" != 1 ]; then
    XLUA_BUILD_DIR=$BUILD "$SRC/dev.sh" build
  fi
  [ -x "$BUILD/bin/xlua" ] || die "no xlua in $BUILD/bin: build first"
  install_host_packages
  [ -e /dev/null ] && command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing"
  mkdir -p "$WORK"
  local t0
  t0=$(now)
  fetch_debs
  unpack_debs
  build_base
  build_guest
  build_overlay
  IMAGE_SECONDS=$(since "$t0")
  say "image ready in ${IMAGE_SECONDS}s ($(du -h "$WORK/dom0.cpio.gz" | cut -f1)); booting Xen (timeout ${TIMEOUT}s)"
  boot
  report
}

main "$@"

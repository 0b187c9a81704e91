#!/usr/bin/env bash
# Boot Debian's kernel once under QEMU (TCG) and run a list of pstore actions.
#
#   test/kernel/run-scenario.sh --out DIR [options] (-a ACTION)... | --do 'A;B+arg;C' | --actions FILE
#
# Options:
#   --out DIR          results directory (created; emptied first)
#   --disk IMG         medium under test, attached as /dev/vda and modified in
#                      place (chain boots by passing the same file again);
#                      default DIR/disk.img.  Created zero-filled if absent.
#   --disk-size N      size for a new disk: bytes or with K/M suffix (default 512K)
#   --append STR       extra kernel command line (e.g. pstore.compress=none)
#   -a ACTION          one action (repeatable), e.g. -a 'mod=pstore_blk blkdev=/dev/vda best_effort=y'
#   --do LIST          actions in the fixtures' compact form: ';' between actions,
#                      '+' for a space inside one
#   --actions FILE     one action per line ('#' comments allowed)
#   --input NAME=PATH  make PATH available to load=DEV:NAME (repeatable)
#   --timeout SEC      hard limit for the VM (default 120)
#   --rtc-base WHEN    QEMU -rtc base= (default: host clock, UTC)
#   --no-save-disk     do not copy the disk to DIR/disk-before.img / disk-after.img
#   --node-bundle IMG  attach a Node.js runtime + our CLI (build-node-bundle.sh)
#                      for node= / cli= actions; gives the VM 1 GiB and -cpu max
#
# Exit status 0 when the VM powered off by itself and every action succeeded.
# Results (DIR/): status, events.txt, dmesg.txt, console.log, cmdline.txt,
# actions.txt, run.json, <cap>/files/*, <cap>/listing.json, snap/*.img,
# info/*.txt, trace/*.txt, dmesg/*.txt, disk-before.img, disk-after.img.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT= DISK= DISK_SIZE=512K APPEND= TIMEOUT=120 RTC_BASE= SAVE_DISK=1 NODE_BUNDLE=
ACTIONS=()
INPUTS=()
die() { echo "run-scenario: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--out) OUT=$2; shift 2 ;;
	--disk) DISK=$2; shift 2 ;;
	--disk-size) DISK_SIZE=$2; shift 2 ;;
	--append) APPEND=$2; shift 2 ;;
	-a) ACTIONS+=("$2"); shift 2 ;;
	--do)
		IFS=';' read -r -a parts <<<"$2"
		for p in "${parts[@]}"; do [ -n "$p" ] && ACTIONS+=("${p//+/ }"); done
		shift 2 ;;
	--actions)
		[ -f "$2" ] || die "no actions file $2"
		while IFS= read -r l; do
			case $l in '' | '#'*) ;; *) ACTIONS+=("$l") ;; esac
		done <"$2"
		shift 2 ;;
	--input) INPUTS+=("$2"); shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--rtc-base) RTC_BASE=$2; shift 2 ;;
	--no-save-disk) SAVE_DISK=0; shift ;;
	--node-bundle) NODE_BUNDLE=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; /^set -e/d'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[ -n "$OUT" ] || die "--out DIR is required"
[ ${#ACTIONS[@]} -gt 0 ] || die "no actions given (-a, --do or --actions)"

"$HERE/setup.sh" --quiet
# shellcheck source=/dev/null
. "$HERE/.cache/env.sh"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
find "$OUT" -mindepth 1 -delete
WORK=$OUT/.work
mkdir -p "$WORK/in/files"

# --- medium under test -----------------------------------------------------
[ -n "$DISK" ] || DISK=$OUT/disk.img
if [ ! -e "$DISK" ]; then
	truncate -s "$DISK_SIZE" "$DISK" || die "cannot create $DISK"
fi
[ "$SAVE_DISK" = 1 ] && cp "$DISK" "$OUT/disk-before.img"

# --- input disk: a tar with the actions and the files to load --------------
printf '%s\n' "${ACTIONS[@]}" >"$WORK/in/actions"
cp "$WORK/in/actions" "$OUT/actions.txt"
for spec in "${INPUTS[@]}"; do
	name=${spec%%=*} path=${spec#*=}
	[ "$name" != "$spec" ] && [ -f "$path" ] || die "--input wants NAME=EXISTING_FILE, got '$spec'"
	cp "$path" "$WORK/in/files/$name"
done
tar -cf "$WORK/in.tar" -C "$WORK/in" .
# The output disk is sparse: it costs nothing until the guest writes its tar.
truncate -s 256M "$WORK/out.img"

# --- boot ------------------------------------------------------------------
cmdline="console=ttyS0,115200 panic=-1 $APPEND"
qemu=(qemu-system-x86_64 -machine q35 -accel tcg -m 512 -smp 1
	-nodefaults -no-reboot -display none -monitor none
	-serial "file:$OUT/console.log"
	-kernel "$KERNEL" -initrd "$INITRD" -append "$cmdline"
	-drive "if=none,id=disk,file=$DISK,format=raw"
	-device virtio-blk-pci,drive=disk,serial=kt-disk
	-drive "if=none,id=in,file=$WORK/in.tar,format=raw,readonly=on"
	-device virtio-blk-pci,drive=in,serial=kt-in
	-drive "if=none,id=out,file=$WORK/out.img,format=raw"
	-device virtio-blk-pci,drive=out,serial=kt-out)
[ -n "$RTC_BASE" ] && qemu+=(-rtc "base=$RTC_BASE")
if [ -n "$NODE_BUNDLE" ]; then
	[ -f "$NODE_BUNDLE" ] || die "no node bundle $NODE_BUNDLE (run build-node-bundle.sh)"
	# Node's heap lives in guest RAM; V8 wants a modern CPU model.
	qemu+=(-m 1024 -cpu max
		-drive "if=none,id=node,file=$NODE_BUNDLE,format=raw,readonly=on"
		-device virtio-blk-pci,drive=node,serial=kt-node)
fi

start=$(date +%s.%N)
set +e
timeout --kill-after=5 "$TIMEOUT" "${qemu[@]}" </dev/null >"$WORK/qemu.stdout" 2>"$WORK/qemu.stderr"
qrc=$?
set -e
end=$(date +%s.%N)
wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
[ "$SAVE_DISK" = 1 ] && cp "$DISK" "$OUT/disk-after.img"

# --- results ---------------------------------------------------------------
tar -xf "$WORK/out.img" -C "$OUT" 2>"$WORK/untar.err" || true
status=$(cat "$OUT/status" 2>/dev/null || echo "fail: VM wrote no results")
if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then
	status="fail: timeout after ${TIMEOUT}s ($status)"
elif [ $qrc -ne 0 ]; then
	status="fail: qemu exit $qrc: $(head -c 500 "$WORK/qemu.stderr") ($status)"
fi
if grep -q 'Kernel panic' "$OUT/console.log" 2>/dev/null; then
	status="fail: kernel panic ($status)"
fi
json_str() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr -d '\n'; }
cat >"$OUT/run.json" <<EOF
{
 "status": "$(json_str "$status")",
 "wall_seconds": $wall,
 "qemu_exit": $qrc,
 "kernel": "$(json_str "$KVER")",
 "kernel_cmdline": "$(json_str "$cmdline")",
 "disk": "$(json_str "$DISK")",
 "actions": [$(for a in "${ACTIONS[@]}"; do printf '%s"%s"' "${sep:-}" "$(json_str "$a")"; sep=', '; done)]
}
EOF
[ "$status" = ok ] && rm -rf "$WORK"
echo "run-scenario: $status (${wall}s) -> $OUT"
[ "$status" = ok ]

#!/usr/bin/env bash
# End-to-end proof that the harness works: boot 1 writes two oopses through
# pstore_blk onto a fresh 512 KiB disk (uncompressed), boot 2 recovers them
# and captures the kernel's pstore mount.
#
#   test/kernel/smoke.sh [OUTDIR]      (default test/kernel/out/smoke)
#
# Prints "PASS kernel-smoke: <n> files" or "FAIL kernel-smoke: <what>".
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/out/smoke}
fail() { echo "FAIL kernel-smoke: $*"; exit 1; }

mkdir -p "$OUT"
rm -f "$OUT/disk.img"
BLK='mod=pstore_blk blkdev=/dev/vda best_effort=y kmsg_size=64 max_reason=2'

"$HERE/run-scenario.sh" --out "$OUT/boot1" --disk "$OUT/disk.img" --disk-size 512K \
	--append pstore.compress=none \
	-a mount -a "$BLK" -a cap=before -a oops=null -a oops=bug ||
	fail "boot 1: $(cat "$OUT/boot1/status" 2>/dev/null || echo 'no status')"
"$HERE/run-scenario.sh" --out "$OUT/boot2" --disk "$OUT/disk.img" \
	--append pstore.compress=none \
	-a mount -a "$BLK" -a cap=after ||
	fail "boot 2: $(cat "$OUT/boot2/status" 2>/dev/null || echo 'no status')"

grep -q '"mtime_sec"' "$OUT/boot1/before/listing.json" && fail "fresh disk already had records"
[ -f "$OUT/boot2/after/listing.json" ] || fail "boot 2 captured no listing"
files=("$OUT"/boot2/after/files/*)
[ -e "${files[0]}" ] || fail "boot 2: pstore mount was empty"
n=${#files[@]}
[ "$n" -eq 2 ] || fail "expected 2 records, the kernel showed $n"
# Both records are uncompressed Oops dumps of the right oopses, in order.
head -1 "$OUT/boot2/after/files/dmesg-pstore_blk-0" | grep -q '^Oops: Total 1 times' || fail "record 0 header"
head -1 "$OUT/boot2/after/files/dmesg-pstore_blk-1" | grep -q '^Oops: Total 2 times' || fail "record 1 header"
grep -q "pstore_crash: trigger #1 'null'" "$OUT/boot2/after/files/dmesg-pstore_blk-0" || fail "record 0 is not the NULL oops"
grep -q "kernel BUG at" "$OUT/boot2/after/files/dmesg-pstore_blk-1" || fail "record 1 is not the BUG oops"
# The listing agrees with the copied files.
for f in "${files[@]}"; do
	name=$(basename "$f")
	grep -q "\"name\": \"$name\", \"size\": $(stat -c %s "$f")," "$OUT/boot2/after/listing.json" ||
		fail "listing.json disagrees with $name"
done
w1=$(sed -n 's/.*"wall_seconds": \([0-9.]*\).*/\1/p' "$OUT/boot1/run.json")
w2=$(sed -n 's/.*"wall_seconds": \([0-9.]*\).*/\1/p' "$OUT/boot2/run.json")
echo "PASS kernel-smoke: $n files (boot 1 ${w1}s, boot 2 ${w2}s)"

#!/usr/bin/env bash
# The kernel conformance stage (npm run test:kernel): prepare the VM
# (installing Debian packages when missing: run as root, or with sudo
# available), then run every scenario of stage.ts against Debian's real
# kernel. Prints one `PASS <scenario>: …` / `FAIL <scenario>: …` line per
# scenario and exits non-zero when any failed or the setup failed.
#
#   bash test/kernel/run-stage.sh [--only s1,s2] [--jobs N] [--out DIR]
#
# Scenarios: kernel-writes-blk, we-write-blk, we-write-mtd, chardev, mtdoops
# (see test/kernel/README.md). Results stay in test/kernel/out/stage/.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO" || exit 2
start=$(date +%s)

if [ ! -d node_modules/tsx ] || [ ! -d node_modules/koffi ]; then
	echo "FAIL setup: node_modules is incomplete (run npm ci first)"
	exit 1
fi
echo "kernel stage: setting up (Debian packages, modules, initramfs; a no-op once done)" >&2
if ! "$HERE/setup.sh" --with-mtdpstore >&2; then
	echo "FAIL setup: test/kernel/setup.sh --with-mtdpstore failed (see above)"
	exit 1
fi
echo "kernel stage: setup done after $(($(date +%s) - start)) s" >&2

node --import tsx "$HERE/stage.ts" "$@"
rc=$?
echo "kernel stage: total $(($(date +%s) - start)) s (exit $rc)" >&2
exit $rc

#!/usr/bin/env bash
# Build the disk image (ext4, read-only in the VM) that gives the test VM a
# Node.js runtime and our CLI (attached by run-scenario.sh --node-bundle,
# mounted by guest/init, which links these paths into its root):
#
#   /opt/kt/bin/node                 the host's own node binary
#   /lib*/…                          the shared libraries it and koffi need (from ldd)
#   /opt/kt/app/dist/                src/ compiled by tsc (tsconfig.build.json)
#   /opt/kt/app/cli/main.js          the CLI as one file (esbuild, when installed), koffi kept outside
#   /opt/kt/app/node_modules/        the runtime dependencies: commander, fzstd, lz4js, koffi + its prebuilt binary
#   /opt/kt/app/guest/               test/kernel/guest/*.mjs scripts
#
#   test/kernel/build-node-bundle.sh [OUT.img]   (default test/kernel/.cache/node-bundle.img)
#
# The VM runs the same kernel ABI and a glibc copied from this host, so the
# host's node works there unchanged. A file system rather than a tar: the
# guest then reads only the pages node touches instead of copying ~100 MB
# into RAM at TCG speed (~9 s). Prints the image's path.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${1:-$HERE/.cache/node-bundle.img}
STAGE=$HERE/.cache/node-bundle
die() { echo "build-node-bundle: $*" >&2; exit 1; }

NODE=$(command -v node) || die "node not found"
NODE=$(readlink -f "$NODE")
rm -rf "$STAGE"
mkdir -p "$STAGE/opt/kt/bin" "$STAGE/opt/kt/app/node_modules" "$STAGE/opt/kt/app/guest"
cp "$NODE" "$STAGE/opt/kt/bin/node"

# Compile. Type errors elsewhere in a tree under work must not stop the
# emit (tsc emits anyway); a missing CLI entry point must.
(cd "$REPO" && npx tsc -p tsconfig.build.json --outDir "$STAGE/opt/kt/app/dist" --sourceMap false --declaration false \
	>"$HERE/.cache/node-bundle-tsc.log" 2>&1) || true
[ -f "$STAGE/opt/kt/app/dist/cli/main.js" ] || { cat "$HERE/.cache/node-bundle-tsc.log" >&2; die "tsc produced no dist/cli/main.js"; }
echo '{ "type": "module" }' >"$STAGE/opt/kt/app/package.json"
# One file instead of ~100 modules halves the CLI's start-up, which under
# TCG is seconds per command. esbuild comes with tsx; without it the
# guest runs dist/cli/main.js.
ESBUILD=$REPO/node_modules/esbuild/bin/esbuild
if [ -x "$ESBUILD" ]; then
	"$ESBUILD" "$STAGE/opt/kt/app/dist/cli/main.js" --bundle --platform=node --format=esm --external:koffi \
		--log-level=warning --outfile="$STAGE/opt/kt/app/cli/main.js" \
		--banner:js="import { createRequire as __ktRequire } from 'node:module'; const require = __ktRequire(import.meta.url);" ||
		die "esbuild failed"
fi
cp "$HERE"/guest/*.mjs "$STAGE/opt/kt/app/guest/"

# Runtime dependencies (and the native koffi build for this platform).
for dep in commander fzstd lz4js koffi; do
	[ -d "$REPO/node_modules/$dep" ] || die "node_modules/$dep missing (npm ci first)"
	cp -r "$REPO/node_modules/$dep" "$STAGE/opt/kt/app/node_modules/"
done
if [ -d "$REPO/node_modules/@koromix" ]; then
	mkdir -p "$STAGE/opt/kt/app/node_modules/@koromix"
	cp -r "$REPO"/node_modules/@koromix/koffi-linux-* "$STAGE/opt/kt/app/node_modules/@koromix/" 2>/dev/null || true
fi

# Shared libraries of node and of every koffi .node, at their own paths
# (the dynamic loader's path is fixed in the binary).
libs=$( { ldd "$NODE"; find "$STAGE/opt/kt/app/node_modules" -name '*.node' -exec ldd {} \; 2>/dev/null; } |
	awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' | sort -u)
for l in $libs; do
	mkdir -p "$STAGE$(dirname "$l")"
	cp -L "$l" "$STAGE$l"
done
kib=$(du -sk "$STAGE" | cut -f1)
rm -f "$OUT.tmp"
mke2fs -q -F -t ext4 -O ^has_journal -L kt-node -d "$STAGE" "$OUT.tmp" "$((kib + kib / 5 + 8192))K" >/dev/null ||
	die "mke2fs failed (needs e2fsprogs >= 1.43 for -d)"
mv "$OUT.tmp" "$OUT"
echo "$OUT"

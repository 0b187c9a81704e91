/** Options shared by the writing commands. */
import { Option, type Command } from 'commander';
import { PstoreError } from '../errors.js';
import type { WriteOptions, WriteReport } from '../api/write.js';
import { parseAbi } from '../zone/abi.js';
import { parseBlockList, parseBytes } from './units.js';
import { printJson } from './options.js';

export interface WriteFlags {
  write?: boolean;
  policy?: 'kernel' | 'hardened';
  medium?: 'mtd' | 'block';
  kmsgSize?: string;
  abi?: string;
  endian?: 'le' | 'be';
  type?: 'nand' | 'nor' | 'ram';
  erasesize?: string;
  writesize?: string;
  oobsize?: string;
  oob?: boolean;
  badBlocks?: string;
  detach?: boolean;
  json?: boolean;
}

export function addWriteOptions(cmd: Command): Command {
  return cmd
    .option('--write', 'really write to the image (without it nothing is changed)')
    .addOption(new Option('--policy <policy>', 'mtdpstore policy for raw flash: kernel (exactly as Linux) or hardened (same format, no data loss)').choices(['kernel', 'hardened']).default('hardened'))
    .addOption(new Option('--medium <medium>', 'mtd: raw flash via mtdpstore; block: a pstore/blk disk [from the sidecar or the image fill]').choices(['mtd', 'block']))
    .option('--kmsg-size <size>', 'kmsg zone size (KiB, or with a unit) [sidecar or detected]')
    .option('--abi <abi>', 'ABI of the kernel that will read the image [sidecar or detected, else lp64]')
    .addOption(new Option('--endian <order>', 'byte order').choices(['le', 'be']))
    .addOption(new Option('--type <type>', 'flash type').choices(['nand', 'nor', 'ram']))
    .option('--erasesize <size>', 'erase block size [sidecar, else 128k]')
    .option('--writesize <size>', 'page size [sidecar, else 2048 for NAND]')
    .option('--oobsize <size>', 'OOB bytes per page')
    .option('--oob', 'the image has OOB after every page')
    .option('--bad-blocks <list>', 'bad block numbers, comma-separated')
    .option('--no-detach', 'do not detach at the end (as a reboot without unloading mtdpstore: lazy removals are lost)')
    .option('--json', 'print the report as JSON');
}

export function requireWrite(flags: WriteFlags, what: string): void {
  if (!flags.write) {
    throw new PstoreError('EROFS', `refusing to ${what} without --write (nothing was changed): add --write to do it`);
  }
}

export function writeOptions(f: WriteFlags): WriteOptions {
  const o: WriteOptions = { policy: f.policy, medium: f.medium, noDetach: f.detach === false };
  if (f.kmsgSize !== undefined) o.kmsgSize = parseBytes(f.kmsgSize, '--kmsg-size', 'k');
  if (f.abi !== undefined) {
    const a = parseAbi(f.abi);
    if (!a) throw new PstoreError('EINVAL', `--abi: unknown ABI "${f.abi}": use lp64, ilp32-a8, ilp32-a4, m68k or an arch name`);
    o.abi = { cls: a.cls, endian: f.endian ?? a.endian ?? 'le' };
  } else if (f.endian) o.abi = { cls: 'lp64', endian: f.endian };
  if (f.type) o.type = f.type;
  if (f.erasesize !== undefined) o.erasesize = parseBytes(f.erasesize, '--erasesize');
  if (f.writesize !== undefined) o.writesize = parseBytes(f.writesize, '--writesize');
  if (f.oobsize !== undefined) o.oobsize = parseBytes(f.oobsize, '--oobsize');
  if (f.oob !== undefined) o.oob = f.oob;
  if (f.badBlocks !== undefined) o.badBlocks = parseBlockList(f.badBlocks, '--bad-blocks');
  return o;
}

export function reportWrite(rep: WriteReport, f: WriteFlags): void {
  if (f.json) {
    printJson({ ...rep, before: rep.before.map((r) => ({ type: r.type, id: r.id, count: r.count, reason: r.reason })) });
    return;
  }
  const err = (s: string) => process.stderr.write(`mtdpstore: ${s}\n`);
  for (const n of rep.notes) err(n);
  err(
    rep.medium === 'mtd'
      ? `policy: ${rep.policy} (mtdpstore on raw flash), kmsg zone ${rep.kmsgSize} bytes, ABI ${rep.abi.cls}-${rep.abi.endian}`
      : `pstore/blk on a disk image, kmsg zone ${rep.kmsgSize} bytes, ABI ${rep.abi.cls}-${rep.abi.endian}`,
  );
  for (const l of rep.log) err(`log: ${l}`);
}

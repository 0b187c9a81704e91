/**
 * Options shared by the commands: how to read an image, and how to print.
 */
import { Option, type Command } from 'commander';
import { PstoreError } from '../errors.js';
import type { MtdType } from '../mtd/device.js';
import { readSidecar, type Sidecar } from '../api/sidecar.js';
import type { ListOptions } from '../api/read.js';
import { parseAbi, type AbiClass, type Endian } from '../zone/abi.js';
import { parseBlockList, parseBytes, parseIntOption } from './units.js';

/** Raw option values as commander hands them over. */
export interface SourceFlags {
  kmsgSize?: string;
  recordSize?: string;
  abi?: string;
  endian?: string;
  oob?: boolean;
  type?: string;
  erasesize?: string;
  writesize?: string;
  oobsize?: string;
  badBlocks?: string;
  skippedBadBlocks?: string;
  format?: string;
  pmsgSize?: string;
  consoleSize?: string;
  ftraceSize?: string;
  cpus?: string;
  json?: boolean;
}

export function addSourceOptions(cmd: Command): Command {
  return cmd
    .option('--kmsg-size <size>', 'kmsg zone size, as pstore_blk.kmsg_size: KiB, or with a unit (32k, 65536b) [detected]')
    .option('--record-size <size>', 'mtdoops record size in bytes [detected, 4096]')
    .option('--abi <abi>', 'ABI of the writing kernel: lp64, ilp32-a8, ilp32-a4 (i386), m68k, or an arch name [detected]')
    .addOption(new Option('--endian <order>', 'byte order of the writing kernel [detected]').choices(['le', 'be']))
    .option('--oob', 'the image has OOB bytes after every page (nanddump --oob) [detected from the size when a geometry is given]')
    .option('--no-oob', 'the image has no OOB bytes')
    .addOption(new Option('--type <type>', 'flash type of the image').choices(['nand', 'nor', 'ram']))
    .option('--erasesize <size>', 'erase block size (e.g. 128k)')
    .option('--writesize <size>', 'page size (e.g. 2048)')
    .option('--oobsize <size>', 'OOB bytes per page (e.g. 64)')
    .option('--bad-blocks <list>', 'bad block numbers, comma-separated (e.g. 2,7)')
    .option('--skipped-bad-blocks <list>', 'bad blocks a nanddump --bb=skipbad dump left out (physical numbers)')
    .addOption(new Option('--format <format>', 'force the format instead of detecting it').choices(['pstore', 'mtdoops']))
    .option('--pmsg-size <size>', 'pstore_blk.pmsg_size (KiB) when the device also holds a pmsg zone (pstore_blk on a disk)')
    .option('--console-size <size>', 'pstore_blk.console_size (KiB)')
    .option('--ftrace-size <size>', 'pstore_blk.ftrace_size (KiB)')
    .option('--cpus <n>', 'nr_cpu_ids of the writing kernel (ftrace zones)');
}

/** Resolve command-line flags (and the image's sidecar) into read options. */
export function sourceOptions(image: string, f: SourceFlags): ListOptions & { sidecar?: Sidecar } {
  const sc = readSidecar(image);
  const o: ListOptions & { sidecar?: Sidecar } = { sidecar: sc };
  const abiText = f.abi ?? sc?.abi;
  if (abiText !== undefined) {
    const a = parseAbi(abiText);
    if (!a) throw new PstoreError('EINVAL', `--abi: unknown ABI "${abiText}": use lp64, ilp32-a8, ilp32-a4, m68k, or an arch such as x86_64, arm, i386, s390x`);
    o.abi = a.cls as AbiClass;
    if (a.endian) o.endian = a.endian;
  }
  const endian = (f.endian ?? sc?.endian) as Endian | undefined;
  if (endian) o.endian = endian;
  if (f.kmsgSize !== undefined) o.zoneSize = parseBytes(f.kmsgSize, '--kmsg-size', 'k');
  else if (f.recordSize !== undefined) o.zoneSize = parseBytes(f.recordSize, '--record-size');
  else if (sc?.kmsgSize) o.zoneSize = sc.kmsgSize;
  if (f.oob !== undefined) o.oob = f.oob;
  else if (sc?.oob !== undefined) o.oob = sc.oob;
  const type = (f.type ?? sc?.type) as MtdType | undefined;
  if (type) o.type = type;
  if (f.erasesize !== undefined) o.erasesize = parseBytes(f.erasesize, '--erasesize');
  else if (sc?.erasesize) o.erasesize = sc.erasesize;
  if (f.writesize !== undefined) o.writesize = parseBytes(f.writesize, '--writesize');
  else if (sc?.writesize) o.writesize = sc.writesize;
  if (f.oobsize !== undefined) o.oobsize = parseBytes(f.oobsize, '--oobsize');
  else if (sc?.oobsize !== undefined && o.oob) o.oobsize = sc.oobsize;
  if (f.badBlocks !== undefined) o.badBlocks = parseBlockList(f.badBlocks, '--bad-blocks');
  else if (sc?.badBlocks?.length) o.badBlocks = sc.badBlocks;
  if (f.skippedBadBlocks !== undefined) o.skippedBadBlocks = parseBlockList(f.skippedBadBlocks, '--skipped-bad-blocks');
  if (f.format) o.format = f.format as 'pstore' | 'mtdoops';
  if (f.pmsgSize !== undefined) o.pmsgSize = parseBytes(f.pmsgSize, '--pmsg-size', 'k');
  if (f.consoleSize !== undefined) o.consoleSize = parseBytes(f.consoleSize, '--console-size', 'k');
  if (f.ftraceSize !== undefined) o.ftraceSize = parseBytes(f.ftraceSize, '--ftrace-size', 'k');
  if (f.cpus !== undefined) o.nrCpus = parseIntOption(f.cpus, '--cpus');
  return o;
}

/**
 * A progress bar on stderr for long reads, only when stderr is a terminal
 * (never in pipes, logs or tests). Returns the callback and a function that
 * clears the line.
 */
export function progressBar(label: string): { onProgress?: (done: number, total: number) => void; done: () => void } {
  if (!process.stderr.isTTY) return { done: () => {} };
  let last = -1;
  let drawn = false;
  return {
    onProgress(done: number, total: number) {
      if (total < 8 * 1024 * 1024) return;
      const pct = Math.floor((done / total) * 100);
      if (pct === last) return;
      last = pct;
      drawn = true;
      const width = 30;
      const fill = Math.round((pct / 100) * width);
      process.stderr.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}%`);
    },
    done() {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}

/** Print JSON with a trailing newline (bigints as strings). */
export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), 2) + '\n');
}

/** Messages for humans go to stderr so stdout stays clean for data. */
export function note(text: string): void {
  process.stderr.write(`mtdpstore: ${text}\n`);
}

/**
 * Watchers the fuzzer puts around the library: a zone backend and an image
 * reader that record every access outside the image (or any write), a
 * file-system watch that records every read of the image file outside its
 * bounds and every attempt to open it for writing or change it, and the
 * rule that only a PstoreError with a message may escape a library call.
 *
 * Violations are collected, not only thrown: the format detector swallows
 * exceptions from its reader on purpose, so a throw alone could be hidden.
 */
import fsd from 'node:fs';
import * as path from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
import { ERRNO, PstoreError } from '../../src/errors.js';
import type { ZoneBackend } from '../../src/zone/backend.js';
import type { BufferReader, Source } from '../../src/api/source.js';

/** Collected violations of the "reads stay inside, nothing is written" rules. */
export class Violations {
  readonly list: string[] = [];
  add(what: string): void {
    if (this.list.length < 20) this.list.push(what);
  }
  get ok(): boolean {
    return this.list.length === 0;
  }
}

/** A backend that checks every read is wholly inside [0, size) and that nothing is written. */
export function guardBackend(inner: ZoneBackend, size: number, v: Violations, count?: { reads: number; bytes: number }): ZoneBackend {
  return {
    totalSize: inner.totalSize,
    read(buf: Buffer, off: number): number {
      if (!Number.isSafeInteger(off) || off < 0 || off + buf.length > size) v.add(`backend read of ${buf.length} bytes at ${off} outside the ${size}-byte image`);
      if (count) {
        count.reads++;
        count.bytes += buf.length;
      }
      return inner.read(buf, off);
    },
    write(buf: Buffer, off: number): number {
      v.add(`backend write of ${buf.length} bytes at ${off} during a read-only listing`);
      return -ERRNO.EROFS;
    },
    erase(sz: number, off: number): number {
      v.add(`backend erase of ${sz} bytes at ${off} during a read-only listing`);
      return -ERRNO.EROFS;
    },
    panicWrite(buf: Buffer, off: number): number {
      v.add(`backend panic write of ${buf.length} bytes at ${off} during a read-only listing`);
      return -ERRNO.EROFS;
    },
  };
}

/** A byte reader that checks every read lies inside [0, size). */
export function guardReader(inner: BufferReader, size: number, v: Violations): BufferReader {
  return {
    size: inner.size,
    read(off: number, len: number): Buffer {
      if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > size) {
        v.add(`reader read of ${len} bytes at ${off} outside the ${size}-byte image`);
      }
      return inner.read(off, len);
    },
  };
}

/** The source with its backend and reader guarded (same detection, notes, close). */
export function guardSource(src: Source, v: Violations, count?: { reads: number; bytes: number }): Source {
  return {
    path: src.path,
    fileSize: src.fileSize,
    dataSize: src.dataSize,
    backend: guardBackend(src.backend, src.dataSize, v, count),
    device: src.device,
    reader: guardReader(src.reader, src.dataSize, v),
    detection: src.detection,
    notes: src.notes,
    close: () => src.close(),
  };
}

// ------------------------------------------------------------ file system

interface Watch {
  file: string;
  size: number;
  fds: Set<number>;
  v: Violations;
  count?: { reads: number };
}
let watch: Watch | null = null;
let installed = false;

const WRITE_FLAGS = fsd.constants.O_WRONLY | fsd.constants.O_RDWR | fsd.constants.O_TRUNC | fsd.constants.O_APPEND;

function flagsWrite(flags: unknown): boolean {
  if (flags === undefined || flags === null) return false;
  if (typeof flags === 'number') return (flags & WRITE_FLAGS) !== 0;
  return String(flags) !== 'r' && String(flags) !== 'rs' && String(flags) !== 'sr';
}

function isImage(p: unknown): boolean {
  return watch !== null && (typeof p === 'string' || p instanceof URL || Buffer.isBuffer(p)) && path.resolve(String(p)) === watch.file;
}

/**
 * Patch node:fs (CommonJS object and ESM named exports) once, so that while
 * {@link watchImageFile} is active every operation on the watched image is
 * checked. Outside a watch the patches only forward.
 */
function install(): void {
  if (installed) return;
  installed = true;
  const f = fsd as unknown as Record<string, (...a: unknown[]) => unknown>;
  const wrap = (name: string, check: (args: unknown[], result?: unknown) => void, after = false): void => {
    const orig = f[name]!;
    f[name] = function (this: unknown, ...args: unknown[]) {
      if (watch && !after) check(args);
      const r = orig.apply(this, args);
      if (watch && after) check(args, r);
      return r;
    };
  };
  wrap(
    'openSync',
    (args, fd) => {
      if (!isImage(args[0])) return;
      if (flagsWrite(args[1])) watch!.v.add(`image opened for writing (flags ${String(args[1])})`);
      if (typeof fd === 'number') watch!.fds.add(fd);
    },
    true,
  );
  wrap('closeSync', (args) => {
    watch?.fds.delete(args[0] as number);
  });
  wrap('readSync', (args) => {
    const w = watch!;
    if (!w.fds.has(args[0] as number)) return;
    if (w.count) w.count.reads++;
    // readSync(fd, buffer, offset, length, position) or readSync(fd, buffer, {offset, length, position})
    let len: number;
    let pos: unknown;
    if (typeof args[2] === 'object' && args[2] !== null) {
      const o = args[2] as { length?: number; position?: unknown; offset?: number };
      len = o.length ?? (args[1] as Uint8Array).length - (o.offset ?? 0);
      pos = o.position;
    } else {
      len = (args[3] as number | undefined) ?? (args[1] as Uint8Array).length;
      pos = args[4];
    }
    if (typeof pos !== 'number' && typeof pos !== 'bigint') {
      w.v.add('image read without a position (sequential read)');
      return;
    }
    const p = Number(pos);
    if (p < 0 || (len > 0 && p >= w.size)) w.v.add(`image file read of ${len} bytes at ${p} outside the ${w.size}-byte file`);
  });
  for (const name of ['writeSync', 'ftruncateSync', 'fchmodSync', 'futimesSync', 'fsyncSync', 'fdatasyncSync']) {
    wrap(name, (args) => {
      if (watch!.fds.has(args[0] as number)) watch!.v.add(`${name} on the image file`);
    });
  }
  for (const name of ['writeFileSync', 'appendFileSync', 'truncateSync', 'utimesSync', 'lutimesSync', 'unlinkSync', 'rmSync', 'chmodSync']) {
    wrap(name, (args) => {
      if (isImage(args[0])) watch!.v.add(`${name} on the image file`);
    });
  }
  wrap('renameSync', (args) => {
    if (isImage(args[0]) || isImage(args[1])) watch!.v.add('renameSync on the image file');
  });
  syncBuiltinESMExports();
}

/** Run `fn` with the image file at `file` watched; violations go to `v`, read calls are counted in `count`. */
export function watchImageFile<T>(file: string, v: Violations, fn: () => T, count?: { reads: number }): T {
  install();
  const prev = watch;
  watch = { file: path.resolve(file), size: fsd.statSync(file).size, fds: new Set(), v, count };
  try {
    return fn();
  } finally {
    watch = prev;
  }
}

// ------------------------------------------------------------ errors

/** Result of a library call: its value, or the PstoreError it threw. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: PstoreError };

/** Error that is a property failure, not an expected library refusal. */
export class PropertyFailure extends Error {
  /** Short name of the property that failed (used to set known failures aside while hunting for others). */
  readonly tag: string;
  constructor(message: string, options?: { cause?: unknown; tag?: string }) {
    super(message, options);
    this.name = 'PropertyFailure';
    this.tag = options?.tag ?? 'property';
  }
}

/** Tags of failures to count instead of failing on (`run.ts --ignore TAG`); empty in `npm test`. */
export const ignoredTags = new Set<string>();
/** How many failures of each ignored tag were seen. */
export const ignoredCounts = new Map<string, number>();

/** Throw `f`, unless its tag is ignored (then only count it). */
export function fail(f: PropertyFailure): void {
  if (ignoredTags.has(f.tag)) {
    ignoredCounts.set(f.tag, (ignoredCounts.get(f.tag) ?? 0) + 1);
    return;
  }
  throw f;
}

/**
 * Call `fn`; a PstoreError with a known code and a non-empty message is an
 * acceptable outcome, anything else that escapes is a property failure.
 */
export function onlyPstoreError<T>(what: string, fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof PstoreError) {
      if (!(e.code in ERRNO) || typeof e.message !== 'string' || e.message.trim().length < 8) {
        throw new PropertyFailure(`${what}: PstoreError without a usable message or code: ${e.code} ${JSON.stringify(e.message)}`, { cause: e });
      }
      return { ok: false, error: e };
    }
    if (e instanceof PropertyFailure) throw e;
    const err = e as Error;
    throw new PropertyFailure(`${what}: a non-PstoreError escaped: ${err?.stack ?? String(e)}`, { cause: e });
  }
}

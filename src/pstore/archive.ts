/**
 * Archive pstore files to ordinary storage, in the spirit of systemd-pstore
 * (layout and reasons: docs/ARCHIVE.md). Idempotent: a second run over the
 * same files changes nothing; an interrupted run leaves only temporary files,
 * which the next run removes before it starts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PstoreError } from '../errors.js';
import { timespecToUtimeSeconds, validateFileName, type PstoreFile } from './files.js';
import { PSTORE_TYPE, typeName } from './names.js';

/** Options of {@link archiveFiles}. */
export interface ArchiveOptions {
  /**
   * Called once a file is durably in the archive (also when an earlier run
   * had already archived it), e.g. to delete it from pstore so that its zone
   * can be reused — systemd-pstore's `Unlink=yes`. An exception thrown here
   * is reported in the entry, and the run goes on.
   */
  onArchived?: (file: PstoreFile, archivedPath: string) => void;
  /** Write a joined `dmesg.txt` in every directory holding dmesg files (default true). */
  dmesgTxt?: boolean;
  /** fsync files and directories (default true). */
  fsync?: boolean;
}

/** What happened to one file. */
export interface ArchiveEntry {
  name: string;
  /** Directory inside the archive (relative), e.g. `20261203-162411.822214984`. */
  dir: string;
  path: string;
  status: 'archived' | 'already-archived';
  /** Set if onArchived threw. */
  removeError?: string;
}

export interface ArchiveResult {
  entries: ArchiveEntry[];
  /** Leftovers of an interrupted earlier run that were deleted. */
  removedTempFiles: string[];
  /** dmesg.txt files (re)written by this run. */
  dmesgTxtWritten: string[];
}

const TMP_MARK = '.tmp-';

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/**
 * The archive directory of a file: for records with a stored time (dmesg),
 * the UTC time `YYYYMMDD-HHMMSS.nnnnnnnnn` — unique per dump, stable across
 * runs, and sorting in time order (zone indexes are reused, so the pstore
 * name alone would collide across boots). For records without one (pmsg,
 * console, ftrace, or time 0) the listing time is not stable, so the name is
 * `<type>-<first 16 hex digits of SHA-256 of the content>`.
 */
export function archiveKey(file: PstoreFile): string {
  if (file.time && file.time.sec !== 0) {
    const d = new Date(file.time.sec * 1000);
    const ns = String(file.time.nsec).padStart(9, '0');
    if (!Number.isNaN(d.getTime())) {
      return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}.${ns}`;
    }
    return `t${file.time.sec}.${ns}`;
  }
  const h = crypto.createHash('sha256').update(file.data).digest('hex').slice(0, 16);
  return `${typeName(file.type)}-${h}`;
}

function ioError(what: string, p: string, e: unknown): PstoreError {
  return new PstoreError('EIO', `${what} ${p}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

function lstatOrNull(p: string): fs.Stats | null {
  try { return fs.lstatSync(p); } catch { return null; }
}

function ensureDir(p: string): void {
  const st = lstatOrNull(p);
  if (st) {
    if (!st.isDirectory()) throw new PstoreError('EEXIST', `${p} exists and is not a directory (symlinks are not followed); move it away`);
    return;
  }
  try { fs.mkdirSync(p, { mode: 0o755 }); } catch (e) { throw ioError('cannot create directory', p, e); }
}

function fsyncDir(p: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    fs.fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on directories; the data itself is synced.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Write `data` to `dir/name` via a temporary file and rename, never following symlinks. */
function atomicWrite(dir: string, name: string, data: Buffer, mtime: PstoreFile['mtime'] | null, sync: boolean): void {
  const tmp = path.join(dir, `.${name}${TMP_MARK}${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  let fd: number;
  try {
    fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    throw ioError('cannot create', tmp, e);
  }
  try {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    if (mtime) fs.futimesSync(fd, timespecToUtimeSeconds(mtime), timespecToUtimeSeconds(mtime));
    if (sync) fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw ioError('cannot write', tmp, e);
  }
  fs.closeSync(fd);
  const target = path.join(dir, name);
  const st = lstatOrNull(target);
  if (st && !st.isFile()) {
    fs.rmSync(tmp, { force: true });
    throw new PstoreError('EEXIST', `${target} exists and is not a regular file; move it away`);
  }
  try { fs.renameSync(tmp, target); } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw ioError('cannot rename into', target, e);
  }
  if (sync) fsyncDir(dir);
}

function sameContent(p: string, data: Buffer): boolean {
  const st = lstatOrNull(p);
  if (!st || !st.isFile() || st.size !== data.length) return false;
  return fs.readFileSync(p).equals(data);
}

/** Remove temporary files an interrupted run left in the archive root and its subdirectories. */
function removeStaleTemps(root: string): string[] {
  const removed: string[] = [];
  const sweep = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isFile() && e.name.startsWith('.') && e.name.includes(TMP_MARK)) {
        fs.rmSync(p, { force: true });
        removed.push(p);
      } else if (e.isDirectory() && dir === root) {
        sweep(p);
      }
    }
  };
  sweep(root);
  return removed;
}

/**
 * systemd-pstore's courtesy file: every dmesg file of the directory (except
 * `.enc.z` ones), in reverse name order, each preceded by a `<name>:` line.
 */
export function joinDmesg(entries: readonly { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  const sorted = entries
    .filter((e) => e.name.startsWith('dmesg-') && !e.name.endsWith('.enc.z'))
    .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  for (const e of sorted) parts.push(Buffer.from(`${e.name}:\n`), e.data);
  return Buffer.concat(parts);
}

/**
 * Archive `files` under `archiveDir` (created if missing): each file goes to
 * `<archiveDir>/<archiveKey(file)>/<file name>`, written atomically, mode
 * 0600, with the record's mtime; each directory with dmesg files also gets
 * `dmesg.txt`. A file already present with identical bytes is left alone; a
 * different file with the same name and key (two distinct records with the
 * same timestamp) goes to `<key>~2`, `<key>~3`, ….
 *
 * @throws PstoreError EINVAL (unsafe file name), EEXIST (a non-directory or
 *   symlink where a directory is needed), EIO (file-system errors).
 */
export function archiveFiles(files: readonly PstoreFile[], archiveDir: string, opts: ArchiveOptions = {}): ArchiveResult {
  const sync = opts.fsync ?? true;
  for (const f of files) {
    validateFileName(f.name);
    if (f.name === 'dmesg.txt') throw new PstoreError('EINVAL', 'a pstore file named dmesg.txt would collide with the joined log');
  }
  try { fs.mkdirSync(archiveDir, { recursive: true, mode: 0o755 }); } catch (e) { throw ioError('cannot create directory', archiveDir, e); }
  ensureDir(archiveDir);
  const removedTempFiles = removeStaleTemps(archiveDir);

  const entries: ArchiveEntry[] = [];
  const touchedDirs = new Set<string>();
  for (const f of files) {
    const key = archiveKey(f);
    let dirName = key;
    let status: ArchiveEntry['status'] | null = null;
    for (let n = 2; status === null; n++) {
      const dir = path.join(archiveDir, dirName);
      const target = path.join(dir, f.name);
      const st = lstatOrNull(target);
      if (!st) {
        ensureDir(dir);
        atomicWrite(dir, f.name, f.data, f.mtime, sync);
        status = 'archived';
      } else if (sameContent(target, f.data)) {
        status = 'already-archived';
      } else {
        dirName = `${key}~${n}`;
      }
    }
    const dir = path.join(archiveDir, dirName);
    const entry: ArchiveEntry = { name: f.name, dir: dirName, path: path.join(dir, f.name), status };
    if (f.type === PSTORE_TYPE.DMESG) touchedDirs.add(dir);
    if (opts.onArchived) {
      try { opts.onArchived(f, entry.path); } catch (e) { entry.removeError = e instanceof Error ? e.message : String(e); }
    }
    entries.push(entry);
  }

  const dmesgTxtWritten: string[] = [];
  if (opts.dmesgTxt ?? true) {
    for (const dir of touchedDirs) {
      const present = fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isFile() && e.name.startsWith('dmesg-') && !e.name.includes(TMP_MARK))
        .map((e) => ({ name: e.name, data: fs.readFileSync(path.join(dir, e.name)) }));
      const joined = joinDmesg(present);
      if (joined.length === 0) continue;
      const txt = path.join(dir, 'dmesg.txt');
      if (sameContent(txt, joined)) continue;
      atomicWrite(dir, 'dmesg.txt', joined, null, sync);
      dmesgTxtWritten.push(txt);
    }
  }
  return { entries, removedTempFiles, dmesgTxtWritten };
}

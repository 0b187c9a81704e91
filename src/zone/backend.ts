/**
 * The zone backend contract: the four operations pstore/zone asks of the
 * device below it (include/linux/pstore_zone.h), with the kernel's return
 * conventions kept on purpose, because pstore/zone's policy depends on the
 * exact values:
 *
 * - `read(buf, off)`: fill `buf` from byte offset `off`; returns the number of
 *   bytes read (anything other than buf.length is a failure) or a negative
 *   errno. `-ENOMSG` means "this zone is broken, skip it".
 * - `write(buf, off)`: returns bytes written or a negative errno. `-EBUSY`
 *   means "try again later", `-ENOMSG` means "try the next zone".
 * - `erase(size, off)` (optional): forget the record of the zone at `off`;
 *   returns 0 or a negative errno.
 * - `panicWrite(buf, off)` (optional): used instead of write once a panic is
 *   in progress; same return values as write.
 *
 * Negative errno values come from `ERRNO` in `src/errors.ts` (use negErrno).
 * A backend may throw PowerCut (simulated power loss); nothing else should be
 * thrown.
 */
export interface ZoneBackend {
  /** Size of the storage area in bytes (before pstore/zone's 128 MiB cap). */
  readonly totalSize: number;
  read(buf: Buffer, off: number): number;
  write(buf: Buffer, off: number): number;
  erase?(size: number, off: number): number;
  panicWrite?(buf: Buffer, off: number): number;
}

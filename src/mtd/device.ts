/**
 * The MTD device interface: what every layer above sees of raw flash.
 *
 * It mirrors the kernel's mtd_info operations (mtd_read, mtd_write,
 * mtd_panic_write, mtd_erase, mtd_block_isbad, mtd_block_markbad) and their
 * semantics, and nothing more: no policy lives here. The interface is
 * synchronous on purpose: the kernel paths we reproduce are synchronous, the
 * simulator can then enumerate power cuts deterministically, and file-backed
 * devices use positional synchronous I/O.
 *
 * Errors: argument errors (unaligned, out of range) throw PstoreError EINVAL
 * naming the numbers; hard I/O failures throw PstoreError EIO; a simulated
 * power cut throws PowerCut. ECC events are not errors: they are reported in
 * the read status, as the kernel reports -EUCLEAN / -EBADMSG with the data.
 */

export type MtdType = 'nand' | 'nor' | 'ram';

export interface MtdGeometry {
  /** MTD name, e.g. "pstore" or "NAND simulator partition 0". */
  readonly name: string;
  /** MTD index (the N of /dev/mtdN). */
  readonly index: number;
  readonly type: MtdType;
  /** Partition size in bytes (S). */
  readonly size: number;
  /** Erase block size in bytes (E). */
  readonly erasesize: number;
  /** Program unit in bytes (W); 1 on most NOR. */
  readonly writesize: number;
  /** Spare bytes per page (0 on NOR/RAM). */
  readonly oobsize: number;
}

/**
 * Status of a read, as the kernel reports it with the data:
 * - `ok`: clean;
 * - `EUCLEAN`: bitflips were corrected, the data is valid;
 * - `EBADMSG`: uncorrectable ECC error, the data is returned as read (corrupt).
 */
export type ReadStatus = 'ok' | 'EUCLEAN' | 'EBADMSG';

export interface MtdReadResult {
  /** The bytes read (length = retlen). */
  readonly data: Buffer;
  /** Bytes actually read; a driver may return fewer than asked without error. */
  readonly retlen: number;
  readonly status: ReadStatus;
  /** Number of bitflips corrected during this read (0 if unknown). */
  readonly corrected: number;
}

export interface MtdDevice {
  readonly geometry: MtdGeometry;
  /** Read `len` bytes at `off`. Throws EINVAL (range) or EIO (hard failure). */
  read(off: number, len: number): MtdReadResult;
  /**
   * Program `data` at `off`. NAND: offset and length page-aligned. Returns the
   * number of bytes written. Throws EINVAL, EIO (program failure, bad block),
   * EROFS (read-only device).
   */
  write(off: number, data: Uint8Array): number;
  /**
   * Program during a panic (polling, no locks). Same contract as write;
   * throws EOPNOTSUPP when the device cannot write from panic context.
   */
  panicWrite(off: number, data: Uint8Array): number;
  /** Erase whole erase blocks: `off` and `len` (default E) multiples of E. Throws EINVAL, EIO. */
  erase(off: number, len?: number): void;
  /** Whether the block containing `off` is bad. Always false on NOR/RAM. Throws EINVAL, EIO. */
  isBad(off: number): boolean;
  /** Mark the block containing `off` bad. Throws EOPNOTSUPP on devices without bad blocks. */
  markBad(off: number): void;
  /** Flush pending writes to the backing store (no-op for the simulator). */
  sync(): void;
  /** Release the backing store. Later calls are errors. */
  close(): void;
}

/** Block number of an offset. */
export function blockOf(g: MtdGeometry, off: number): number {
  return Math.floor(off / g.erasesize);
}

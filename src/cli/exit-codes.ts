/**
 * Distinct exit codes, so scripts can tell failures apart without parsing
 * messages. Documented in `mtdpstore --help` and the README.
 */
import { PstoreError, type ErrnoName } from '../errors.js';

export const EXIT = {
  OK: 0,
  /** Unexpected internal error (a bug: please report it). */
  INTERNAL: 1,
  /** Bad command line (unknown option, missing argument). */
  USAGE: 2,
  /** A named thing does not exist: file, record name. */
  NOT_FOUND: 3,
  /** The input is not what was expected: wrong geometry, truncated or corrupted image, bad parameter. */
  BAD_INPUT: 4,
  /** Device or file I/O failed. */
  IO: 5,
  /** A write was refused: no --write flag, read-only target, no permission. */
  WRITE_REFUSED: 6,
  /** The operation ran, but the kernel-style result is a failure (e.g. every zone refused the dump). */
  FAILED: 7,
} as const;

const BY_CODE: Partial<Record<ErrnoName, number>> = {
  ENOENT: EXIT.NOT_FOUND,
  EINVAL: EXIT.BAD_INPUT,
  EBADMSG: EXIT.BAD_INPUT,
  ENOMSG: EXIT.BAD_INPUT,
  EUCLEAN: EXIT.BAD_INPUT,
  ENOMEM: EXIT.BAD_INPUT,
  EIO: EXIT.IO,
  EROFS: EXIT.WRITE_REFUSED,
  EACCES: EXIT.WRITE_REFUSED,
  EPERM: EXIT.WRITE_REFUSED,
  EBUSY: EXIT.FAILED,
  ENOSPC: EXIT.FAILED,
  EOPNOTSUPP: EXIT.FAILED,
  EEXIST: EXIT.FAILED,
};

export function exitCodeFor(e: unknown): number {
  if (e instanceof PstoreError) return BY_CODE[e.code] ?? EXIT.INTERNAL;
  return EXIT.INTERNAL;
}

export const EXIT_HELP = `Exit codes:
  0 success            3 not found (file, record)     5 I/O error
  1 internal error     4 bad input (image, geometry,   6 write refused (no --write,
  2 usage error          parameter)                     read-only target)
                                                      7 operation failed (e.g. no zone took the dump)`;

/**
 * Errors as values with names.
 *
 * The kernel reports failures as negative errno numbers; we keep the same
 * names so that a message like "EBADMSG at 0x20000" means the same thing here
 * as in a kernel log. Two forms are used:
 *  - thrown {@link PstoreError} objects (API misuse, I/O failures, bad input),
 *    always carrying `code` (the errno name) and a message saying what to do;
 *  - negative errno numbers returned by the zone-backend operations, exactly
 *    as pstore/zone's backends return them (see `src/zone/backend.ts`).
 */

/** Kernel errno names used by this project, with their Linux numbers. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  EROFS: 30,
  ENOMSG: 42,
  EBADMSG: 74,
  EOPNOTSUPP: 95,
  EUCLEAN: 117,
} as const;

export type ErrnoName = keyof typeof ERRNO;

const NAME_BY_NUMBER = new Map<number, ErrnoName>(
  (Object.entries(ERRNO) as [ErrnoName, number][]).map(([k, v]) => [v, k]),
);

/** Name of an errno number, positive or negative (`-42` → `ENOMSG`). */
export function errnoName(n: number): ErrnoName | `E${number}` {
  return NAME_BY_NUMBER.get(Math.abs(n)) ?? `E${Math.abs(n)}`;
}

/** The negative errno value a kernel-style operation returns. */
export function negErrno(name: ErrnoName): number {
  return -ERRNO[name];
}

/** An error with a kernel errno name. `message` says what is wrong and what to do. */
export class PstoreError extends Error {
  readonly code: ErrnoName;
  readonly errno: number;
  constructor(code: ErrnoName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PstoreError';
    this.code = code;
    this.errno = ERRNO[code];
  }
}

/** True if `e` is a {@link PstoreError}, optionally with the given code. */
export function isPstoreError(e: unknown, code?: ErrnoName): e is PstoreError {
  return e instanceof PstoreError && (code === undefined || e.code === code);
}

/**
 * Thrown by a simulated device after an armed power cut fired: the operation
 * that was cut and every later one fail until the device is "rebooted".
 * Deliberately not a PstoreError: nothing in the stack may catch and survive it.
 */
export class PowerCut extends Error {
  constructor(readonly operation: number, readonly what: string) {
    super(`power cut at operation ${operation} (${what})`);
    this.name = 'PowerCut';
  }
}

/** Format a byte offset the way kernel messages do. */
export function hex(n: number): string {
  return '0x' + n.toString(16);
}

/**
 * Kernel log text as a kmsg dump with syslog prefixes produces it
 * (pstore-core.md §3, test vectors T): `<P>[ SSSSS.UUUUUU][CALLER] text\n`.
 */
import { PstoreError } from '../errors.js';

/** One printk record. */
export interface KmsgLine {
  /** Log level 0–7. */
  level: number;
  /** Syslog facility; 0 for kernel messages, 1 (user) for writes to /dev/kmsg. Default 0. */
  facility?: number;
  /** Time since boot in microseconds (printk time truncated to µs); omit when printk time stamps are off. */
  timeUs?: number | bigint;
  /** Caller id as printk shows it with CONFIG_PRINTK_CALLER: `T<pid>` (task) or `C<cpu>` (interrupt context). */
  caller?: string;
  /** Message text; a multi-line message gives one output line per line, each with the full prefix. */
  text: string;
}

/** Options of {@link formatKmsgLine}. */
export interface KmsgFormatOptions {
  /** printk.time: print the time field when the line has one (default true). */
  time?: boolean;
  /** CONFIG_PRINTK_CALLER: print the caller field when the line has one (default true). */
  caller?: boolean;
}

/** The prefix of every output line of a record, including the trailing space when a time or caller field is present. */
export function formatKmsgPrefix(line: KmsgLine, opts: KmsgFormatOptions = {}): string {
  const level = line.level;
  const facility = line.facility ?? 0;
  if (!Number.isInteger(level) || level < 0 || level > 7 || !Number.isInteger(facility) || facility < 0) {
    throw new PstoreError('EINVAL', `log level must be 0–7 and facility a non-negative integer (got level ${level}, facility ${facility})`);
  }
  let p = `<${facility * 8 + level}>`;
  let fields = false;
  if ((opts.time ?? true) && line.timeUs !== undefined) {
    const us = BigInt(line.timeUs);
    if (us < 0n) throw new PstoreError('EINVAL', `log time must not be negative (got ${us} µs)`);
    p += `[${(us / 1_000_000n).toString().padStart(5)}.${(us % 1_000_000n).toString().padStart(6, '0')}]`;
    fields = true;
  }
  if ((opts.caller ?? true) && line.caller !== undefined) {
    p += `[${line.caller.padStart(6)}]`;
    fields = true;
  }
  return fields ? p + ' ' : p;
}

/** All output lines of one record, each ending in "\n". */
export function formatKmsgLine(line: KmsgLine, opts: KmsgFormatOptions = {}): string {
  const prefix = formatKmsgPrefix(line, opts);
  return line.text.split('\n').map((l) => prefix + l + '\n').join('');
}

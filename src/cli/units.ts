/** Parsing of sizes and numbers given on the command line. */
import { PstoreError } from '../errors.js';

const UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3,
};

/**
 * A byte count: "131072", "128k", "128KiB", "0x20000", "1M".
 * @throws PstoreError EINVAL naming the option and the text.
 */
export function parseBytes(text: string, option: string, defaultUnit: 'b' | 'k' = 'b'): number {
  const t = String(text).trim().toLowerCase();
  let n: number;
  let unit: string;
  const hexm = /^0x([0-9a-f]+)$/.exec(t);
  if (hexm) {
    n = parseInt(hexm[1]!, 16);
    unit = 'b';
  } else {
    const m = /^(\d+)\s*([a-z]*)$/.exec(t);
    if (!m || !(m[2]! in UNITS)) {
      throw new PstoreError('EINVAL', `${option}: "${text}" is not a size; write e.g. 131072, 128k, 128KiB, 0x20000 or 1M`);
    }
    n = parseInt(m[1]!, 10);
    unit = m[2] === '' ? defaultUnit : m[2]!;
  }
  const v = n * UNITS[unit]!;
  if (!Number.isSafeInteger(v)) throw new PstoreError('EINVAL', `${option}: ${text} is too large`);
  return v;
}

/** A non-negative integer option (decimal or 0x hex). */
export function parseIntOption(text: string, option: string): number {
  const t = String(text).trim().toLowerCase();
  const v = /^0x[0-9a-f]+$/.test(t) ? parseInt(t, 16) : /^-?\d+$/.test(t) ? parseInt(t, 10) : NaN;
  if (!Number.isSafeInteger(v)) throw new PstoreError('EINVAL', `${option}: "${text}" is not an integer`);
  return v;
}

/** A comma-separated list of block numbers: "2,5,7" or "". */
export function parseBlockList(text: string, option: string): number[] {
  if (text.trim() === '') return [];
  return text.split(',').map((p) => {
    const v = parseIntOption(p, option);
    if (v < 0) throw new PstoreError('EINVAL', `${option}: block numbers are ≥ 0 (got ${v})`);
    return v;
  });
}

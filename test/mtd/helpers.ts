/** Small assertion helpers shared by the MTD tests. */
import assert from 'node:assert/strict';
import { PowerCut, PstoreError, type ErrnoName } from '../../src/errors.js';

/** Assert `fn` throws a PstoreError with `code` whose message matches every pattern. */
export function throwsCode(fn: () => unknown, code: ErrnoName, ...patterns: RegExp[]): PstoreError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof PstoreError, `expected PstoreError ${code}, got ${caught === undefined ? 'no error' : String(caught)}`);
  assert.equal(caught.code, code, `wrong code; message: ${caught.message}`);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

/** Assert `fn` throws PowerCut. */
export function throwsPowerCut(fn: () => unknown): PowerCut {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof PowerCut, `expected PowerCut, got ${caught === undefined ? 'no error' : String(caught)}`);
  return caught;
}

/** Deterministic test pattern: byte i = (seed + i * 7) & 0xff, never all 0xFF for a page. */
export function pattern(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed + i * 7) & 0xff;
  return b;
}

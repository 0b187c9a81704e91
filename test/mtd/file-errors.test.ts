import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { isPstoreError } from '../../src/errors.js';
import { createImage } from '../../src/mtd/image-file.js';
import { FlashSimulator } from '../../src/mtd/simulator.js';

test('a full disk is a PstoreError ENOSPC saying what to do, not a raw Node error', { skip: !fs.existsSync('/dev/full') && 'no /dev/full here' }, () => {
  assert.throws(
    () => createImage('/dev/full', { type: 'nand', size: 256 * 1024, erasesize: 128 * 1024, writesize: 2048 }, { overwrite: true }),
    (e: unknown) => isPstoreError(e, 'ENOSPC') && /free disk space/.test((e as Error).message),
  );
});

test('fromImage with OOB: an all-0xFF page whose OOB holds ECC bytes counts as programmed (images.md §3)', () => {
  const W = 2048;
  const O = 64;
  const sim = new FlashSimulator({ type: 'nand', size: 256 * 1024, erasesize: 128 * 1024, writesize: W, oobsize: O });
  const img = sim.exportImage({ oob: true });
  // Page 3: data stays 0xFF, OOB bytes 2..39 look like ECC of a programmed page.
  img.fill(0x5a, 3 * (W + O) + W + 2, 3 * (W + O) + W + 40);
  const loaded = FlashSimulator.fromImage(img, { type: 'nand', erasesize: 128 * 1024, writesize: W, oobsize: O, oob: true });
  assert.equal(loaded.programCount(3), 1);
  assert.equal(loaded.programCount(4), 0);
  assert.throws(() => loaded.write(3 * W, Buffer.alloc(W, 0)), (e: unknown) => isPstoreError(e, 'EIO'), 'a second program of that page is refused');
});

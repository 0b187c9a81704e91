import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { createPstoreImage } from '../../src/api/create.js';
import { listImage } from '../../src/api/read.js';
import { removeRecords, storeDump } from '../../src/api/write.js';
import { KmsgReason } from '../../src/zone/format.js';
import { tmpDir } from '../cli/helpers.js';

const text = (i: number) => Buffer.from(`Oops#1 Part1\n<4>[    ${i}.000000] record ${i}\n`);

for (const policy of ['kernel', 'hardened'] as const) {
  test(`${policy}: several removals in one boot use the names of one listing`, () => {
    const img = path.join(tmpDir(), 'n.img');
    createPstoreImage(img, { medium: 'mtd', size: 1024 * 1024, kmsgSizeKiB: 32, erasesize: 128 * 1024, writesize: 2048, policy });
    for (let i = 1; i <= 5; i++) {
      const rep = storeDump(img, { reason: KmsgReason.OOPS, time: { sec: 1796313000 + i, nsec: 0 }, compressed: false, data: text(i) }, { policy });
      assert.equal(rep.outcome?.zone, i - 1);
    }
    // Zones 0–3 share an erase block: removing 0 and 1 makes the hardened policy move 2 and 3.
    const rep = removeRecords(img, ['dmesg-pstore_blk-0', 'dmesg-pstore_blk-1'], { policy });
    assert.equal(rep.removeResult, 0);
    assert.equal(rep.policy, policy);
    const left = listImage(img).files;
    const seconds = left.map((f) => f.time!.sec - 1796313000).sort();
    if (policy === 'hardened') {
      assert.deepEqual(seconds, [3, 4, 5], 'removed records stay removed, the others survive intact');
      for (const f of left) assert.match(f.data.toString(), new RegExp(`record ${f.time!.sec - 1796313000}\\n$`));
    } else {
      // Kernel: the detach flush rewrites the block's surviving zones 2 and 3 from the
      // block's first zone (W2): the removed record 1 comes back twice, records 3 and 4 are gone.
      assert.deepEqual(seconds, [1, 1, 5]);
      assert.deepEqual(left.map((f) => f.id), [2, 3, 4]);
    }
  });
}

test('writing to a directory is refused with EINVAL, not an internal error', async () => {
  const { isPstoreError } = await import('../../src/errors.js');
  const dir = tmpDir();
  assert.throws(
    () => removeRecords(dir, ['dmesg-pstore_blk-0'], {}),
    (e: unknown) => isPstoreError(e, 'EINVAL') && /is a directory/.test((e as Error).message),
  );
});

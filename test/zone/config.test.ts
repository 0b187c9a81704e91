import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ConfigError,
  MTDPSTORE_FLAGS,
  ZONE_SIZE_CAP,
  computeLayout,
  formatMessage,
  kibToBytes,
  kmsgSizes,
  parseKernelInt,
  parseKernelVersion,
  pstoreBlkConfig,
  validateConfig,
  type LayoutParams,
} from '../../src/zone/config.js';
import { PstoreError } from '../../src/errors.js';
import { PstoreType } from '../../src/zone/format.js';

const KiB = 1024;
const MiB = 1024 * 1024;

/** Expect computeLayout to fail like the kernel: errno, exact message, rule id. */
function expectFail(p: LayoutParams, code: string, message: string, rule?: string): ConfigError {
  try {
    computeLayout(p);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    if (rule) assert.equal(e.rule, rule);
    return e;
  }
  assert.fail(`expected ${code} "${message}"`);
}

const offsets = (zs: readonly { offset: number }[]) => zs.map((z) => z.offset);

// ---------------------------------------------------------------- S6 / §1.2

test('S6 / config.md §1.2: KiB → bytes with the KiB-rounding bug', () => {
  const table: Array<[number, number, boolean]> = [
    [64, 65536, false],
    [4, 4096, false],
    [6, 4096, true],
    [70, 4096, true],
    [1, 4096, true],
    [4098, 8192, true],
    [0, 0, false],
    [-1, 0, false],
  ];
  for (const [p, bytes, warn] of table) {
    const r = kibToBytes('kmsg_size', p);
    assert.equal(r.bytes, bytes, `p=${p}`);
    assert.equal(r.warning, warn ? 'kmsg_size must align to 4096' : undefined, `p=${p}`);
  }
  assert.equal(kibToBytes('pmsg_size', 6).warning, 'pmsg_size must align to 4096');
  assert.throws(() => kibToBytes('kmsg_size', 6.5), (e: unknown) => e instanceof PstoreError && e.code === 'EINVAL');
});

test('kibToBytes: result is always 0 or a multiple of 4096; exact for multiples of 4 KiB', () => {
  fc.assert(
    fc.property(fc.integer({ min: -10, max: 1 << 22 }), (p) => {
      const r = kibToBytes('x', p);
      assert.equal(r.bytes % 4096, 0);
      if (p > 0 && p % 4 === 0) assert.equal(r.bytes, p * 1024);
      assert.equal(r.warning !== undefined, p > 0 && p % 4 !== 0);
    }),
  );
});

test('S7: after registration kmsg_size reads back bytes ÷ 1024 (6 → 4); unsupported frontends become 0', () => {
  const c = pstoreBlkConfig({ kmsgSize: 6, pmsgSize: 64, consoleSize: 6, ftraceSize: 64 }, MTDPSTORE_FLAGS);
  assert.equal(c.readback.kmsg_size, 4);
  assert.equal(c.zone.kmsgSize, 4096);
  assert.deepEqual([c.zone.pmsgSize, c.zone.consoleSize, c.zone.ftraceSize], [0, 0, 0]);
  assert.deepEqual([c.readback.pmsg_size, c.readback.console_size, c.readback.ftrace_size], [0, 0, 0]);
  // pstore_blk_get_config converts everything (no flags) and logs each misalignment.
  assert.deepEqual(c.getConfig, { kmsgSize: 4096, pmsgSize: 65536, consoleSize: 4096, ftraceSize: 65536, maxReason: 2 });
  assert.deepEqual(
    c.messages.map((m) => `${m.phase} ${formatMessage(m)}`),
    ['get_config pstore_blk: kmsg_size must align to 4096', 'get_config pstore_blk: console_size must align to 4096', 'register pstore_blk: kmsg_size must align to 4096'],
  );
  // All frontends (flags 0).
  const all = pstoreBlkConfig({ kmsgSize: 64, pmsgSize: 64, consoleSize: 64, ftraceSize: 64 });
  assert.deepEqual([all.zone.kmsgSize, all.zone.pmsgSize, all.zone.consoleSize, all.zone.ftraceSize], [65536, 65536, 65536, 65536]);
  assert.equal(all.zone.name, 'pstore_blk');
  // Defaults.
  const d = pstoreBlkConfig();
  assert.equal(d.zone.kmsgSize, 65536);
  assert.equal(d.zone.maxReason, 2);
  assert.equal(d.readback.pmsg_size, 0);
});

test('pstoreBlkConfig: blkdev longer than 79 characters is refused (ENOSPC); best_effort with an MTD name is flagged', () => {
  assert.throws(() => pstoreBlkConfig({ blkdev: 'x'.repeat(80) }), (e: unknown) => e instanceof PstoreError && e.code === 'ENOSPC');
  assert.doesNotThrow(() => pstoreBlkConfig({ blkdev: 'x'.repeat(79) }));
  assert.equal(pstoreBlkConfig({ blkdev: 'pstore', bestEffort: true }, MTDPSTORE_FLAGS).notes.length, 1);
  assert.equal(pstoreBlkConfig({ blkdev: 'pstore' }, MTDPSTORE_FLAGS).notes.length, 0);
});

// ---------------------------------------------------------------- S1–S5

test('S1, S2: buffer_size, bufsize and data offset per ABI', () => {
  const lp64 = kmsgSizes(64 * KiB, { cls: 'lp64', endian: 'le' });
  assert.equal(lp64.bufferSize, 65524);
  assert.equal(lp64.bufsize, 65484);
  assert.equal(lp64.dataOffset, 52);
  const i386 = kmsgSizes(64 * KiB, { cls: 'ilp32-a4', endian: 'le' });
  assert.equal(i386.bufsize, 65496);
  assert.equal(i386.dataOffset, 40);
  assert.equal(kmsgSizes(4 * KiB, { cls: 'lp64', endian: 'be' }).bufsize, 4044);
  assert.equal(kmsgSizes(4 * KiB, { cls: 'ilp32-a4', endian: 'le' }).bufsize, 4056);
});

test('S3–S5: compression limits by kernel version', () => {
  assert.equal(kmsgSizes(64 * KiB, undefined, '6.6').compressInputLimit, 109140);
  assert.equal(kmsgSizes(64 * KiB, undefined, '6.1').compressInputLimit, 109140);
  assert.equal(kmsgSizes(4 * KiB, undefined, '6.17').compressInputLimit, 6740);
  assert.equal(kmsgSizes(4 * KiB, undefined, '6.5').compressInputLimit, 8986);
  assert.equal(kmsgSizes(64 * KiB, undefined, '6.6').decompressOutputLimit, 196452);
});

// ---------------------------------------------------------------- L vectors

test('L1: 1 MiB, 64 KiB kmsg → 16 zones, no unused bytes', () => {
  const r = computeLayout({ totalSize: MiB, kmsgSize: 64 * KiB });
  assert.deepEqual(offsets(r.layout.kmsg), Array.from({ length: 16 }, (_, i) => i * 0x10000));
  assert.ok(r.layout.kmsg.every((z, i) => z.size === 65536 && z.index === i && z.type === PstoreType.DMESG));
  assert.equal(r.unusedBytes, 0);
  assert.equal(r.layout.pmsg, undefined);
  assert.deepEqual(r.layout.ftrace, []);
  assert.deepEqual(r.messages.map(formatMessage), ['pstore_zone: registered pstore_blk as backend for kmsg(Oops,panic_write)']);
});

test('L2: all frontends 64 KiB, 4 CPUs', () => {
  const r = computeLayout({ totalSize: MiB, kmsgSize: 64 * KiB, pmsgSize: 64 * KiB, consoleSize: 64 * KiB, ftraceSize: 64 * KiB, nrCpus: 4 });
  const l = r.layout;
  assert.deepEqual(l.pmsg, { type: PstoreType.PMSG, index: 0, offset: 0, size: 65536 });
  assert.deepEqual(l.console, { type: PstoreType.CONSOLE, index: 0, offset: 0x10000, size: 65536 });
  assert.deepEqual(offsets(l.ftrace), [0x20000, 0x24000, 0x28000, 0x2c000]);
  assert.ok(l.ftrace.every((z) => z.size === 16 * KiB && z.type === PstoreType.FTRACE));
  assert.equal(l.kmsg.length, 13);
  assert.equal(l.kmsg[0]!.offset, 0x30000);
  assert.equal(l.kmsg[12]!.offset, 0xf0000);
  assert.match(r.messages.at(-1)!.text, /kmsg\(Oops,panic_write\) pmsg console ftrace$/);
});

test('L3: ftrace not a multiple of nr_cpus → unaligned kmsg start, last byte unused', () => {
  const r = computeLayout({ totalSize: MiB, kmsgSize: 64 * KiB, ftraceSize: 64 * KiB, nrCpus: 3 });
  assert.deepEqual(offsets(r.layout.ftrace), [0, 0x5555, 0xaaaa]);
  assert.ok(r.layout.ftrace.every((z) => z.size === 21845));
  assert.equal(r.layout.kmsg.length, 15);
  assert.equal(r.kmsgStart, 0xffff);
  assert.deepEqual(offsets(r.layout.kmsg), Array.from({ length: 15 }, (_, i) => 0xffff + i * 0x10000));
  assert.equal(r.layout.kmsg.at(-1)!.offset, 0xeffff);
  assert.equal(r.unusedBytes, 1);
});

test('L4: 256 MiB is capped to 128 MiB since v5.14, not before', () => {
  const r = computeLayout({ totalSize: 256 * MiB, kmsgSize: 64 * KiB });
  assert.equal(r.layout.kmsg.length, 2048);
  assert.equal(r.layout.kmsg.at(-1)!.offset, 0x7ff0000);
  assert.equal(r.layout.totalSize, ZONE_SIZE_CAP);
  assert.equal(formatMessage(r.messages[0]!), 'pstore_zone: capping size to 128MiB');
  assert.equal(r.messages[0]!.level, 'warn');
  const old = computeLayout({ totalSize: 256 * MiB, kmsgSize: 64 * KiB, kernelVersion: '5.13' });
  assert.equal(old.layout.kmsg.length, 4096);
  assert.ok(!old.messages.some((m) => m.text.includes('capping')));
  assert.equal(computeLayout({ totalSize: 256 * MiB, kmsgSize: 64 * KiB, kernelVersion: '5.14' }).layout.kmsg.length, 2048);
});

test('L5: 3 MiB + 4 KiB → 48 zones, final 4 KiB unused', () => {
  const r = computeLayout({ totalSize: 3149824, kmsgSize: 64 * KiB });
  assert.equal(r.layout.kmsg.length, 48);
  assert.equal(r.layout.kmsg.at(-1)!.offset, 0x2f0000);
  assert.equal(r.unusedBytes, 4096);
});

test('L6, L7: zero kmsg zones → "zone dmesg total_size too small" (v6.7+), a crash report before', () => {
  for (const p of [
    { totalSize: 4096, kmsgSize: 8192 },
    { totalSize: 64 * KiB, pmsgSize: 4 * KiB, kmsgSize: 64 * KiB },
  ]) {
    const e = expectFail(p, 'EINVAL', 'zone dmesg total_size too small', 'zone.17');
    assert.deepEqual(e.log, ['pstore_zone: zone dmesg total_size too small', 'pstore_zone: alloc zones failed']);
    for (const k of ['6.6', '6.1', '5.8']) {
      try {
        computeLayout({ ...p, kernelVersion: k });
        assert.fail('must throw');
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'EINVAL');
        assert.match(err.message, new RegExp(`Linux ${k.replace('.', '\\.')} .*would crash`));
        assert.deepEqual(err.log, [], 'the crashing kernel prints nothing');
      }
    }
  }
  assert.doesNotThrow(() => computeLayout({ totalSize: 8192, kmsgSize: 8192, kernelVersion: '6.7' }));
});

test('L8, L9, L10: total_size and record size rules', () => {
  expectFail({ totalSize: MiB + 2048, kmsgSize: 64 * KiB }, 'EINVAL', 'total_size must be a multiple of 4096', 'zone.6');
  expectFail({ totalSize: 2048, kmsgSize: 64 * KiB }, 'EINVAL', 'total_size must be >= 4096', 'zone.1');
  expectFail({ totalSize: MiB, kmsgSize: 0 }, 'EINVAL', 'at least one record size must be non-zero', 'zone.3');
});

test('L11: pmsg larger than the device → ENOMEM "no room for pmsg", then "alloc zones failed"', () => {
  const e = expectFail({ totalSize: MiB, pmsgSize: 2 * MiB, kmsgSize: 64 * KiB }, 'ENOMEM', 'no room for pmsg (0x200000@0x0 over 0x100000)', 'zone.17');
  assert.deepEqual(e.log, ['pstore_zone: no room for pmsg (0x200000@0x0 over 0x100000)', 'pstore_zone: alloc zones failed']);
  expectFail({ totalSize: MiB, pmsgSize: 512 * KiB, consoleSize: 768 * KiB, kmsgSize: 64 * KiB }, 'ENOMEM', 'no room for console (0xc0000@0x80000 over 0x100000)');
  expectFail({ totalSize: MiB, pmsgSize: 512 * KiB, ftraceSize: 768 * KiB, kmsgSize: 64 * KiB }, 'ENOMEM', 'no room for zones ftrace (0xc0000@0x80000 over 0x100000)');
});

// ---------------------------------------------------------------- §3 rule order, one test per rule

test('§3 rule 4: empty name → EINVAL without a kernel message', () => {
  const e = expectFail({ totalSize: MiB, kmsgSize: 64 * KiB, name: '' }, 'EINVAL', 'backend name is empty (pstore/zone refuses it without a log message)', 'zone.4');
  assert.deepEqual(e.log, []);
});

test('§3 rules 7–14: each record size must be 0 or ≥ 512 and a multiple of 512', () => {
  const base = { totalSize: MiB, kmsgSize: 64 * KiB };
  const cases: Array<[string, keyof LayoutParams, number]> = [
    ['kmsg_size', 'kmsgSize', 7],
    ['pmsg_size', 'pmsgSize', 9],
    ['console_size', 'consoleSize', 11],
    ['ftrace_size', 'ftraceSize', 13],
  ];
  for (const [name, key, row] of cases) {
    expectFail({ ...base, [key]: 256 }, 'EINVAL', `${name} must be over 512`, `zone.${row}`);
    expectFail({ ...base, [key]: 1000 }, 'EINVAL', `${name} must be a multiple of 512`, `zone.${row + 1}`);
    assert.doesNotThrow(() => computeLayout({ ...base, [key]: 4096 }));
  }
});

test('§3 rule 15: missing read or write', () => {
  expectFail({ totalSize: MiB, kmsgSize: 64 * KiB, hasRead: false }, 'EINVAL', 'no valid general read/write interface', 'zone.15');
  expectFail({ totalSize: MiB, kmsgSize: 64 * KiB, hasWrite: false }, 'EINVAL', 'no valid general read/write interface', 'zone.15');
});

test('§3 rule 16: another backend registered → EBUSY', () => {
  expectFail({ totalSize: MiB, kmsgSize: 64 * KiB, registered: 'ramoops' }, 'EBUSY', "'ramoops' already loaded: ignoring 'pstore_blk'", 'zone.16');
});

test('§3 order: the earliest failing rule wins', () => {
  // 1 before 3
  expectFail({ totalSize: 2048, kmsgSize: 0 }, 'EINVAL', 'total_size must be >= 4096', 'zone.1');
  // 3 before 4
  expectFail({ totalSize: MiB, kmsgSize: 0, name: '' }, 'EINVAL', 'at least one record size must be non-zero', 'zone.3');
  // 4 before 6
  expectFail({ totalSize: MiB + 2048, kmsgSize: 4096, name: '' }, 'EINVAL', 'backend name is empty (pstore/zone refuses it without a log message)');
  // 6 before 7
  expectFail({ totalSize: MiB + 2048, kmsgSize: 256 }, 'EINVAL', 'total_size must be a multiple of 4096');
  // kmsg before pmsg before console before ftrace
  expectFail({ totalSize: MiB, kmsgSize: 1000, pmsgSize: 256 }, 'EINVAL', 'kmsg_size must be a multiple of 512');
  expectFail({ totalSize: MiB, kmsgSize: 4096, pmsgSize: 1000, consoleSize: 256 }, 'EINVAL', 'pmsg_size must be a multiple of 512');
  expectFail({ totalSize: MiB, kmsgSize: 4096, consoleSize: 1000, ftraceSize: 256 }, 'EINVAL', 'console_size must be a multiple of 512');
  // 14 before 15 before 16 before 17
  expectFail({ totalSize: MiB, kmsgSize: 4096, ftraceSize: 1000, hasRead: false }, 'EINVAL', 'ftrace_size must be a multiple of 512');
  expectFail({ totalSize: MiB, kmsgSize: 4096, hasRead: false, registered: 'x' }, 'EINVAL', 'no valid general read/write interface');
  expectFail({ totalSize: MiB, pmsgSize: 2 * MiB, kmsgSize: 4096, registered: 'x' }, 'EBUSY', "'x' already loaded: ignoring 'pstore_blk'");
  // the cap (2) happens before the layout (17): a 2 MiB pmsg fits a 256 MiB device after capping
  const r = computeLayout({ totalSize: 256 * MiB, pmsgSize: 2 * MiB, kmsgSize: 64 * KiB });
  assert.equal(r.layout.kmsg.length, (128 - 2) * 16);
});

test('§3 rule 5 can never fail once rule 1 passed (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1 << 26 }), fc.integer({ min: 0, max: 64 }), (total, kz) => {
      const rep = validateConfig({ totalSize: total, kmsgSize: kz * 4096 });
      const r1 = rep.verdicts.find((v) => v.id === 'zone.1')!;
      const r5 = rep.verdicts.find((v) => v.id === 'zone.5')!;
      if (r1.ok) assert.ok(r5.ok);
      // computeLayout agrees with the report
      let threw: ConfigError | undefined;
      try {
        computeLayout({ totalSize: total, kmsgSize: kz * 4096 });
      } catch (e) {
        threw = e as ConfigError;
      }
      assert.equal(threw === undefined, rep.ok);
      if (threw) assert.equal(threw.rule, rep.firstFailure!.id);
    }),
    { numRuns: 200 },
  );
});

test('layout invariants (property): zones in order, disjoint, inside the capped device', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4096 }).map((n) => n * 4096),
      fc.integer({ min: 0, max: 32 }).map((n) => n * 512),
      fc.integer({ min: 0, max: 16 }).map((n) => n * 4096),
      fc.integer({ min: 0, max: 16 }).map((n) => n * 4096),
      fc.integer({ min: 0, max: 16 }).map((n) => n * 4096),
      fc.integer({ min: 1, max: 16 }),
      (totalSize, kmsgSize, pmsgSize, consoleSize, ftraceSize, nrCpus) => {
        let r;
        try {
          r = computeLayout({ totalSize, kmsgSize, pmsgSize, consoleSize, ftraceSize, nrCpus });
        } catch (e) {
          assert.ok(e instanceof PstoreError);
          return;
        }
        const l = r.layout;
        const all = [l.pmsg, l.console, ...l.ftrace, ...l.kmsg].filter((z) => z !== undefined);
        let end = 0;
        for (const z of all) {
          assert.ok(z.offset >= end);
          end = z.offset + z.size;
        }
        assert.ok(end <= l.totalSize);
        assert.equal(r.unusedBytes, l.totalSize - end);
        if (kmsgSize) assert.equal(l.kmsg.length, Math.floor((totalSize - pmsgSize - consoleSize - ftraceSize) / kmsgSize));
      },
    ),
    { numRuns: 300 },
  );
});

test('derived: ftrace smaller than nr_cpus and a kmsg area that wraps (size_t) or vanishes', () => {
  // ftrace record size 0 → no ftrace zones, but its size is still subtracted: the kmsg area wraps around.
  expectFail(
    { totalSize: 8192, pmsgSize: 4096, consoleSize: 4096, ftraceSize: 4096, nrCpus: 8192, kmsgSize: 512 },
    'ENOMEM',
    'no room for zones dmesg (0xfffffffffffff000@0x2000 over 0x2000)',
  );
  // ... or is exactly empty: the kmsg group is silently absent and the kernel crashes (any version).
  for (const k of ['6.17', '6.1']) {
    try {
      computeLayout({ totalSize: 8192, pmsgSize: 4096, consoleSize: 4096, kmsgSize: 512, kernelVersion: k });
      assert.fail('must throw');
    } catch (e) {
      assert.ok(e instanceof ConfigError && e.code === 'EINVAL');
      assert.match(e.message, /would crash/);
    }
  }
  // ftrace zones smaller than their header.
  expectFail({ totalSize: MiB, kmsgSize: 4096, ftraceSize: 512, nrCpus: 64 }, 'EINVAL', 'ftrace zones of 8 bytes (ftrace_size 512 ÷ 64 CPUs) are smaller than the zone header: the kernel\'s data size underflows and it misbehaves');
});

test('bad inputs are PstoreError EINVAL, not crashes', () => {
  for (const p of [
    { totalSize: -1, kmsgSize: 4096 },
    { totalSize: 1.5, kmsgSize: 4096 },
    { totalSize: MiB, kmsgSize: Number.NaN },
    { totalSize: MiB, kmsgSize: 4096, nrCpus: 0 },
    { totalSize: MiB, kmsgSize: 4096, kernelVersion: 'banana' },
    { totalSize: MiB, kmsgSize: 4096, kernelVersion: '4.19' },
  ]) {
    assert.throws(() => computeLayout(p), (e: unknown) => e instanceof PstoreError && e.code === 'EINVAL', JSON.stringify(p));
  }
  assert.deepEqual(parseKernelVersion('6.1.0-57-amd64'), { major: 6, minor: 1, text: '6.1' });
  assert.equal(parseKernelVersion('v5.10').text, '5.10');
});

// ---------------------------------------------------------------- M12 / M13 and the report

test('M12: blkdev parses as an integer with automatic base, like kstrtoint', () => {
  const cases: Array<[string, number | undefined]> = [
    ['0x3', 3],
    ['3', 3],
    ['0X1f', 31],
    ['010', 8],
    ['0', 0],
    ['08', undefined],
    ['-3', -3],
    ['+3', 3],
    ['-0x10', -16],
    ['3\n', 3],
    ['3\n\n', undefined],
    [' 3', undefined],
    ['3 ', undefined],
    ['', undefined],
    ['0x', undefined],
    ['0xg', undefined],
    ['-+3', undefined],
    ['--3', undefined],
    ['pstore', undefined],
    ['2147483647', 2147483647],
    ['2147483648', undefined],
    ['-2147483648', -2147483648],
    ['-2147483649', undefined],
    ['18446744073709551616', undefined],
  ];
  for (const [t, want] of cases) assert.equal(parseKernelInt(t), want, JSON.stringify(t));
  assert.equal(parseKernelInt('-1', { signed: false }), undefined);
  assert.equal(parseKernelInt('4294967295', { signed: false }), 4294967295);
  assert.equal(parseKernelInt('0x7fffffffffff', { bits: 64 }), 0x7fffffffffff);
});

test('M13 and mtdpstore init: empty blkdev and kmsg_size 0 are reported with the kernel text', () => {
  const rep = validateConfig({ totalSize: MiB, blk: { blkdev: '' }, device: MTDPSTORE_FLAGS, mtdpstore: true });
  assert.equal(rep.ok, false);
  assert.equal(rep.firstFailure!.id, 'mtdpstore.device');
  assert.equal(rep.firstFailure!.message, 'mtd device must be supplied (device name is empty)');
  assert.equal(rep.firstFailure!.errno, 'EINVAL');
  assert.deepEqual(rep.log, ['mtdpstore: mtd device must be supplied (device name is empty)']);
  // Later rules are still evaluated but marked unreached.
  assert.ok(rep.verdicts.filter((v) => v.id.startsWith('zone.')).every((v) => !v.reached));

  const zero = validateConfig({ totalSize: MiB, blk: { blkdev: 'pstore', kmsgSize: 0 }, device: MTDPSTORE_FLAGS, mtdpstore: true });
  assert.equal(zero.firstFailure!.message, 'no backend enabled (kmsg_size is 0)');
  const num = validateConfig({ totalSize: MiB, blk: { blkdev: '0x3' }, device: MTDPSTORE_FLAGS, mtdpstore: true });
  assert.match(num.verdicts.find((v) => v.id === 'mtdpstore.device')!.message!, /target MTD index 3/);
});

test('validateConfig: a good mtdpstore configuration, with the blk alignment warning and the layout', () => {
  const rep = validateConfig({ totalSize: 512 * KiB, blk: { blkdev: 'pstore', kmsgSize: 6 }, device: MTDPSTORE_FLAGS, mtdpstore: true, kernelVersion: '6.1' });
  assert.equal(rep.ok, true);
  assert.equal(rep.firstFailure, undefined);
  assert.equal(rep.layout!.layout.kmsg.length, 128); // 6 KiB → 4096 bytes
  assert.deepEqual(rep.log, [
    'pstore_blk: kmsg_size must align to 4096',
    'pstore_blk: kmsg_size must align to 4096',
    'pstore_zone: registered pstore_blk as backend for kmsg(Oops,panic_write)',
  ]);
  // Every §3 row 1–17 is present exactly once, in order.
  const ids = rep.verdicts.filter((v) => /^zone\.\d+$/.test(v.id)).map((v) => Number(v.id.slice(5)));
  assert.deepEqual(ids, Array.from({ length: 17 }, (_, i) => i + 1));
  assert.ok(rep.verdicts.every((v) => v.reached));
});

test('validateConfig reports every failing rule, the first one as the kernel sees it', () => {
  const rep = validateConfig({ totalSize: MiB + 2048, kmsgSize: 1000, pmsgSize: 256, hasWrite: false });
  const failing = rep.verdicts.filter((v) => !v.ok).map((v) => v.id);
  assert.deepEqual(failing.slice(0, 5), ['zone.6', 'zone.8', 'zone.9', 'zone.10', 'zone.15']);
  assert.equal(rep.firstFailure!.id, 'zone.6');
  assert.equal(rep.verdicts.find((v) => v.id === 'zone.8')!.reached, false);
  assert.equal(rep.layout, undefined);
  assert.deepEqual(rep.log, ['pstore_zone: total_size must be a multiple of 4096']);
  const zero = validateConfig({ totalSize: 0, blk: { kmsgSize: 64 } });
  assert.equal(zero.firstFailure!.message, 'zero sized device');
});

import type { Command } from 'commander';
import { Option } from 'commander';
import * as fs from 'node:fs';
import { writeSidecar } from '../../api/sidecar.js';
import { FlashSimulator } from '../../mtd/simulator.js';
import { MtdPstoreSession } from '../../mtdpstore/session.js';
import { buildDump } from '../../pstore/dump.js';
import { recordsToFiles } from '../../pstore/files.js';
import type { KmsgLine } from '../../pstore/kmsg-format.js';
import { DEFAULT_ABI } from '../../zone/abi.js';
import { KmsgReason, ZONE_HEADER_SIZE, kmsgHeaderSize } from '../../zone/format.js';
import { isoTime, table } from '../format.js';
import { action } from '../run.js';

const KMSG_SIZE = 64 * 1024;

/** A plausible kernel log ending in a crash, so the demo stores something that looks real. */
function demoLog(kind: 'oops' | 'panic', bootUs: number): KmsgLine[] {
  const lines: KmsgLine[] = [
    { level: 6, timeUs: 0, text: 'Linux version 6.1.0 (demo@mtdpstore) #1 SMP PREEMPT_DYNAMIC' },
    { level: 6, timeUs: 412_019, text: 'nand: device found, Manufacturer ID: 0xec, Chip ID: 0xf1' },
    { level: 6, timeUs: 912_554, text: 'mtdoops-pstore: mtd0: Attached to MTD device 0' },
    { level: 6, timeUs: 915_100, text: 'pstore: Registered pstore_blk as persistent store backend' },
  ];
  if (kind === 'oops') {
    lines.push(
      { level: 1, timeUs: bootUs, text: 'BUG: kernel NULL pointer dereference, address: 0000000000000000' },
      { level: 1, timeUs: bootUs + 12, text: '#PF: supervisor write access in kernel mode' },
      { level: 4, timeUs: bootUs + 30, text: 'Oops: 0002 [#1] PREEMPT SMP NOPTI' },
      { level: 4, timeUs: bootUs + 41, text: 'RIP: 0010:demo_trigger_write+0x11/0x20 [demo]' },
    );
  } else {
    lines.push(
      { level: 0, timeUs: bootUs, text: 'Kernel panic - not syncing: demo: watchdog did not answer' },
      { level: 0, timeUs: bootUs + 25, text: 'CPU: 0 PID: 1 Comm: init Not tainted 6.1.0 #1' },
    );
  }
  return lines;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('store an oops and a panic through the whole stack on a simulated 1 MiB NAND partition, then list and print them')
    .addOption(new Option('--policy <policy>', 'mtdpstore policy').choices(['kernel', 'hardened']).default('hardened'))
    .option('--compress', 'deflate the records, as Linux ≥ 6.6 does by default')
    .option('--save <image>', 'also save the simulated flash as an image (with a sidecar) to try `ls`/`extract` on')
    .action(
      action((f: { policy: 'kernel' | 'hardened'; compress?: boolean; save?: string }) => {
        const w = (s: string) => process.stdout.write(s + '\n');
        const sim = new FlashSimulator({ type: 'nand', size: 1024 * 1024, erasesize: 128 * 1024, writesize: 2048, oobsize: 64, seed: 7, name: 'pstore' });
        const session = new MtdPstoreSession(sim, { kmsgSize: KMSG_SIZE, policy: f.policy, onLog: (l) => w(`  kernel: ${l}`) });
        const bufsize = KMSG_SIZE - ZONE_HEADER_SIZE - kmsgHeaderSize(DEFAULT_ABI);
        const base = 1_796_313_846;
        w(`Simulated NAND: 1 MiB, 128 KiB erase blocks, 2 KiB pages; pstore_blk.kmsg_size=64 → 16 zones; policy ${f.policy}`);

        w('\nBoot 1: attach mtdpstore, mount pstore (recovery), then an oops:');
        session.attach();
        session.list();
        const oops = buildDump({ reason: KmsgReason.OOPS, oopsCount: 1, bufsize, log: demoLog('oops', 57_123_456), compress: f.compress })!;
        const o1 = session.write({ reason: KmsgReason.OOPS, time: { sec: base, nsec: 274_529_865 }, compressed: oops.compressed, data: oops.data });
        w(`  oops stored in zone ${o1?.zone}, counter ${o1?.counter} (${oops.data.length} bytes${oops.compressed ? ', deflated' : ''})`);

        w('\nBoot 1, later: a panic (written with the panic write: no erase, no read), then the machine stops:');
        const panic = buildDump({ reason: KmsgReason.PANIC, oopsCount: 2, bufsize, log: demoLog('panic', 301_000_042), compress: f.compress })!;
        const p1 = session.panicWrite({ time: { sec: base + 244, nsec: 11_000_000 }, compressed: panic.compressed, data: panic.data });
        w(`  panic stored in zone ${p1?.zone}, counter ${p1?.counter}`);
        session.reboot();

        w('\nBoot 2: attach, mount — what /sys/fs/pstore shows:');
        sim.resetStats();
        session.attach();
        const listing = session.list();
        if (!listing.ok) {
          w(`  recovery failed (${listing.error})`);
          return 7;
        }
        const files = recordsToFiles(listing.records, { decompression: { bufsize } });
        process.stdout.write(
          table(
            ['NAME', 'SIZE', 'TIME'],
            files.map((x) => [x.name, String(x.size), isoTime(x.time)]),
          ).replace(/^(?=.)/gm, '  '),
        );
        for (const x of files) {
          w(`\n--- cat /sys/fs/pstore/${x.name}`);
          process.stdout.write(x.data.toString('utf8'));
        }
        const st = sim.stats;
        w(`\nflash activity at boot 2: ${st.reads} reads, ${st.programs} programs, ${st.erases} erases`);
        if (f.save) {
          fs.writeFileSync(f.save, sim.exportImage());
          writeSidecar(f.save, { producer: 'mtdpstore demo', medium: 'mtd', type: 'nand', size: 1024 * 1024, erasesize: 128 * 1024, writesize: 2048, oobsize: 64, oob: false, badBlocks: [], kmsgSize: KMSG_SIZE, abi: 'lp64', endian: 'le' });
          w(`saved the flash to ${f.save} (try: mtdpstore ls ${f.save})`);
        }
        return 0;
      }),
    );
}

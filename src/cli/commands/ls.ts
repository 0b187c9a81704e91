import type { Command } from 'commander';
import { listAsKernel, listImage } from '../../api/read.js';
import { fileJson, listingTable } from '../format.js';
import { addSourceOptions, note, printJson, progressBar, sourceOptions, type SourceFlags } from '../options.js';
import { action } from '../run.js';

export function registerLs(program: Command): void {
  addSourceOptions(
    program
      .command('ls')
      .description('list the records of an image as the kernel shows them under /sys/fs/pstore (read-only)')
      .argument('<image>', 'image file (cat /dev/mtdN, nanddump, a disk image) or device node')
      .option('--json', 'print an array of objects: name, type, id, reason, count, time {sec, nsec}, compressed, size, offset')
      .option('--removed', 'also list removed records whose bytes are still on the medium (flagged "removed")')
      .option('--diagnostics', 'also print why zones were skipped')
      .option('--as-kernel', "show what Linux's mtdpstore would show after attaching to this flash (its read path may erase a block first: W5); the image is not touched"),
  ).action(
    action((image: string, flags: SourceFlags & { removed?: boolean; diagnostics?: boolean; asKernel?: boolean }) => {
      const bar = progressBar(`reading ${image}`);
      const opts = { ...sourceOptions(image, flags), removed: flags.removed, onProgress: bar.onProgress };
      const k = flags.asKernel ? listAsKernel(image, opts) : undefined;
      const l = k ?? listImage(image, opts);
      bar.done();
      if (k?.lostByKernel.length) {
        note(`the kernel would NOT show ${k.lostByKernel.join(', ')} (its attach erases or skips them; an offline read still has them)`);
      }
      if (flags.json) {
        printJson(l.files.map((f) => fileJson(f, l)));
      } else {
        for (const n of l.notes) note(n);
        if (l.format !== 'empty') {
          const d = l.source.detection;
          note(
            l.format === 'mtdoops'
              ? `mtdoops partition, record size ${l.zoneSize}`
              : `pstore/zone, kmsg zone size ${l.zoneSize}, ABI ${l.abi?.cls}-${l.abi?.endian} (detection: ${d.confidence}; override with --kmsg-size/--abi/--endian)`,
          );
        }
        process.stdout.write(l.files.length ? listingTable(l) : '');
        if (l.files.length === 0) note('no records');
      }
      if (flags.diagnostics) for (const d of l.diagnostics) note(`zone ${d.index} @0x${d.offset.toString(16)}: ${d.reason}: ${d.detail}`);
    }),
  );
}

import type { Command } from 'commander';
import { PstoreError } from '../../errors.js';
import { listImage } from '../../api/read.js';
import { addSourceOptions, sourceOptions, type SourceFlags } from '../options.js';
import { action } from '../run.js';

export function registerCat(program: Command): void {
  addSourceOptions(
    program
      .command('cat')
      .description('print one record exactly as reading its pstore file would (read-only)')
      .argument('<image>', 'image file or device node')
      .argument('<name>', 'file name from `ls`, e.g. dmesg-pstore_blk-3')
      .option('--removed', 'also look among removed records still on the medium'),
  ).action(
    action((image: string, name: string, flags: SourceFlags & { removed?: boolean }) => {
      const l = listImage(image, { ...sourceOptions(image, flags), removed: flags.removed });
      const f = l.files.find((x) => x.name === name) ?? l.files.find((x) => x.name === `${name}.enc.z`);
      if (!f) {
        throw new PstoreError(
          'ENOENT',
          `${image}: no record named "${name}"; records: ${l.files.map((x) => x.name).join(', ') || 'none'}`,
        );
      }
      process.stdout.write(f.data);
    }),
  );
}

import type { Command } from 'commander';
import { errnoName } from '../../errors.js';
import { removeRecords } from '../../api/write.js';
import { EXIT } from '../exit-codes.js';
import { addWriteOptions, requireWrite, writeOptions, reportWrite, type WriteFlags } from '../write-options.js';
import { action } from '../run.js';

export function registerRm(program: Command): void {
  addWriteOptions(
    program
      .command('rm')
      .description('remove a record, as `rm /sys/fs/pstore/<name>` would (needs --write)')
      .argument('<image>', 'image file')
      .argument('<names...>', 'file names from `ls`, e.g. dmesg-pstore_blk-3 (several are removed in one boot)'),
  ).action(
    action((image: string, names: string[], flags: WriteFlags) => {
      requireWrite(flags, `remove ${names.join(', ')} from ${image}`);
      const rep = removeRecords(image, names, writeOptions(flags));
      reportWrite(rep, flags);
      if (rep.removeResult !== undefined && rep.removeResult < 0) {
        process.stderr.write(`mtdpstore: the backend answered ${errnoName(rep.removeResult)}; pstore drops the file anyway\n`);
      }
      return EXIT.OK;
    }),
  );
}

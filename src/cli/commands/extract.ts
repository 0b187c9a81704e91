import type { Command } from 'commander';
import { listImage } from '../../api/read.js';
import { writeFilesToDir } from '../../pstore/files.js';
import { addSourceOptions, note, printJson, progressBar, sourceOptions, type SourceFlags } from '../options.js';
import { action } from '../run.js';

export function registerExtract(program: Command): void {
  addSourceOptions(
    program
      .command('extract')
      .description("write the records into a directory exactly like the kernel's pstore mount: names, bytes, file times")
      .argument('<image>', 'image file or device node (never modified)')
      .argument('<dir>', 'target directory (created if missing; symlinks planted there are not followed)')
      .option('--removed', 'also extract removed records still on the medium')
      .option('--json', 'print what was written as JSON'),
  ).action(
    action((image: string, dir: string, flags: SourceFlags & { removed?: boolean }) => {
      const bar = progressBar(`reading ${image}`);
      const l = listImage(image, { ...sourceOptions(image, flags), removed: flags.removed, onProgress: bar.onProgress });
      bar.done();
      const files = l.files.map((f) => (f.removed ? { ...f, name: `${f.name}.removed` } : f));
      const paths = writeFilesToDir(files, dir);
      if (flags.json) printJson(paths);
      else {
        for (const n of l.notes) note(n);
        note(`${paths.length} file(s) written to ${dir}`);
      }
    }),
  );
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { PstoreError } from '../../errors.js';
import { listImage } from '../../api/read.js';
import { removeRecords } from '../../api/write.js';
import { archiveFiles } from '../../pstore/archive.js';
import type { PstoreFile } from '../../pstore/files.js';
import { addSourceOptions, note, printJson, sourceOptions, type SourceFlags } from '../options.js';
import { action } from '../run.js';

/** Files of a directory that looks like a pstore mount (or an `extract` output). */
function filesOfDir(dir: string): PstoreFile[] {
  const out: PstoreFile[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    const st = fs.lstatSync(p, { bigint: true });
    if (!st.isFile()) continue;
    const m = /^([a-z-]+)-(.+)-(\d+)(\.enc\.z)?$/.exec(name);
    if (!m) continue;
    const data = fs.readFileSync(p);
    const mt = { sec: Number(st.mtimeNs / 1_000_000_000n), nsec: Number(st.mtimeNs % 1_000_000_000n) };
    const types: Record<string, number> = { dmesg: 0, console: 2, ftrace: 3, pmsg: 7 };
    out.push({
      name,
      type: types[m[1]!] ?? -1,
      id: Number(m[3]),
      reason: 0,
      count: 0,
      time: m[1] === 'dmesg' ? mt : null,
      compressed: !!m[4],
      encrypted: !!m[4],
      data,
      size: data.length,
      kernelStatSize: data.length,
      mode: 0o444,
      mtime: mt,
      atime: mt,
      offset: 0,
    });
  }
  return out;
}

export function registerArchive(program: Command): void {
  addSourceOptions(
    program
      .command('archive')
      .description("copy records into an archive directory in systemd-pstore's manner; idempotent; optionally remove them afterwards")
      .argument('<source>', 'an image file, or a directory (a pstore mount such as /sys/fs/pstore, or an extract output)')
      .argument('<archive-dir>', 'archive root (e.g. /var/lib/systemd/pstore)')
      .option('--unlink', 'remove each record once it is safely archived (image: needs --write; directory: deletes the file)')
      .option('--write', 'allow --unlink to change the image')
      .addOption(new Option('--policy <policy>', 'mtdpstore policy for removals from a flash image').choices(['kernel', 'hardened']).default('hardened'))
      .option('--json', 'print what happened as JSON'),
  ).action(
    action((source: string, archiveDir: string, flags: SourceFlags & { unlink?: boolean; write?: boolean; policy: 'kernel' | 'hardened' }) => {
      let files: PstoreFile[];
      let remove: ((f: PstoreFile) => void) | undefined;
      if (fs.existsSync(source) && fs.statSync(source).isDirectory()) {
        files = filesOfDir(source);
        if (flags.unlink) remove = (f) => fs.unlinkSync(path.join(source, f.name));
      } else {
        const l = listImage(source, sourceOptions(source, flags));
        files = l.files;
        if (flags.unlink) {
          if (!flags.write) throw new PstoreError('EROFS', `--unlink would change ${source}: add --write (nothing was changed)`);
          const toRemove: string[] = [];
          remove = (f) => toRemove.push(f.name);
          const res = archiveFiles(files, archiveDir, { onArchived: (f) => remove!(f) });
          // Remove once the whole archive is durable, all in one boot: names from
          // one listing stay valid only within one attach (hardened removals may move records).
          if (toRemove.length) removeRecords(source, toRemove, { policy: flags.policy, kmsgSize: l.zoneSize, abi: l.abi });
          report(res, flags.json);
          return;
        }
      }
      const res = archiveFiles(files, archiveDir, { onArchived: remove ? (f) => remove!(f) : undefined });
      report(res, flags.json);
    }),
  );
}

function report(res: ReturnType<typeof archiveFiles>, json: boolean | undefined): void {
  if (json) {
    printJson(res);
    return;
  }
  for (const e of res.entries) process.stdout.write(`${e.status === 'archived' ? 'archived' : 'present '}  ${e.name} → ${e.path}${e.removeError ? ` (remove failed: ${e.removeError})` : ''}\n`);
  if (res.removedTempFiles.length) note(`cleaned ${res.removedTempFiles.length} leftover temporary file(s) of an interrupted run`);
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { PstoreError, errnoName } from '../../errors.js';
import { runReplay, validateScript } from '../../mtdpstore/replay.js';
import { EXIT } from '../exit-codes.js';
import { printJson } from '../options.js';
import { action } from '../run.js';
import { parseBlockList, parseBytes } from '../units.js';

interface ReplayFlags {
  write?: boolean;
  snapshotDir?: string;
  policy: 'kernel' | 'hardened';
  type?: 'nand' | 'nor' | 'ram';
  size?: string;
  erasesize?: string;
  writesize?: string;
  oobsize?: string;
  kmsgSize?: string;
  badBlocks?: string;
  json?: boolean;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('apply a JSON script of mtdpstore operations (attach, recover, write, panic-write, remove, detach, snapshot, reboot) to an image on a simulated flash')
    .argument('<image>', 'starting image (data only); a missing file starts from blank flash')
    .argument('<script>', 'script.json: {"geometry": {...}, "config": {"kmsgSize": …}, "ops": [...]}; payload paths are relative to it')
    .option('--write', 'write the final flash content back to <image>')
    .option('--snapshot-dir <dir>', 'where "snapshot" ops write <name>.img')
    .addOption(new Option('--policy <policy>', 'mtdpstore policy').choices(['kernel', 'hardened']).default('hardened'))
    .addOption(new Option('--type <type>', 'override the script geometry: flash type').choices(['nand', 'nor', 'ram']))
    .option('--size <size>', 'override: partition size')
    .option('--erasesize <size>', 'override: erase block size')
    .option('--writesize <size>', 'override: page size')
    .option('--oobsize <size>', 'override: OOB bytes per page')
    .option('--kmsg-size <size>', 'override: kmsg zone size (KiB, or with a unit)')
    .option('--bad-blocks <list>', 'override: factory bad blocks')
    .option('--json', 'print the steps as JSON')
    .action(
      action((image: string, scriptPath: string, f: ReplayFlags) => {
        let raw: unknown;
        try {
          raw = JSON.parse(fs.readFileSync(scriptPath, 'utf8'));
        } catch (e) {
          throw new PstoreError('EINVAL', `${scriptPath}: cannot read the script (${(e as Error).message})`);
        }
        const script = validateScript(raw);
        const g = { ...script.geometry };
        if (f.type) g.type = f.type;
        if (f.size) g.size = parseBytes(f.size, '--size');
        if (f.erasesize) g.erasesize = parseBytes(f.erasesize, '--erasesize');
        if (f.writesize) g.writesize = parseBytes(f.writesize, '--writesize');
        if (f.oobsize) g.oobsize = parseBytes(f.oobsize, '--oobsize');
        if (f.badBlocks !== undefined) g.badBlocks = parseBlockList(f.badBlocks, '--bad-blocks');
        const config = { ...script.config };
        if (f.kmsgSize) config.kmsgSize = parseBytes(f.kmsgSize, '--kmsg-size', 'k');
        const start = fs.existsSync(image) ? fs.readFileSync(image) : undefined;
        if (start && start.length !== g.size) {
          throw new PstoreError('EINVAL', `${image} holds ${start.length} bytes but the geometry says ${g.size}: pass --size or fix the script`);
        }
        if (f.snapshotDir) fs.mkdirSync(f.snapshotDir, { recursive: true });
        const res = runReplay({ ...script, geometry: g, config }, { baseDir: path.dirname(path.resolve(scriptPath)), image: start, policy: f.policy, snapshotDir: f.snapshotDir });
        if (f.write) fs.writeFileSync(image, res.image);
        if (f.json) {
          printJson({ policy: f.policy, steps: res.steps, log: res.log, written: !!f.write });
          return EXIT.OK;
        }
        process.stderr.write(`mtdpstore: policy ${f.policy}${start ? '' : ', starting from blank flash'}\n`);
        for (const s of res.steps) {
          const d = s.delta;
          let what = '';
          if (s.files) what = ` files: ${s.files.join(' ') || '(none)'}`;
          if (s.error !== undefined) what = ` recovery failed: ${errnoName(s.error)}`;
          if (s.outcome !== undefined) what = s.outcome && s.outcome.zone !== null ? ` → zone ${s.outcome.zone}, counter ${s.outcome.counter}` : ' → not stored';
          if (s.result !== undefined && s.op !== 'write') what += ` result ${s.result < 0 ? errnoName(s.result) : s.result}`;
          if (s.file) what += ` → ${s.file}`;
          process.stdout.write(`${String(s.index).padStart(3)} ${s.op.padEnd(11)} erases ${d.erases} programs ${d.programs} panic-writes ${d.panicWrites} reads ${d.reads}${what}\n`);
        }
        const c = res.steps.at(-1)?.counters;
        if (c) process.stdout.write(`total: erases ${c.erases}, programs ${c.programs}, panic writes ${c.panicWrites}, reads ${c.reads}, pages programmed ${c.pagesProgrammed}\n`);
        if (!f.write) process.stderr.write(`mtdpstore: ${image} not changed (add --write to save the final flash content)\n`);
        return EXIT.OK;
      }),
    );
}

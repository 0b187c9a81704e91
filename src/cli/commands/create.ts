import { Option, type Command } from 'commander';
import { createPstoreImage, planImage, type Plan, type PlanOptions } from '../../api/create.js';
import { parseAbi } from '../../zone/abi.js';
import { PstoreError } from '../../errors.js';
import { EXIT } from '../exit-codes.js';
import { printJson } from '../options.js';
import { action } from '../run.js';
import { parseBlockList, parseBytes, parseIntOption } from '../units.js';

interface CreateFlags {
  size: string;
  medium: 'mtd' | 'block';
  type?: 'nand' | 'nor' | 'ram';
  erasesize?: string;
  writesize?: string;
  oobsize?: string;
  oob?: boolean;
  badBlocks?: string;
  kmsgSize: string;
  maxReason: string;
  abi?: string;
  endian?: 'le' | 'be';
  policy: 'kernel' | 'hardened';
  kernel?: string;
  write?: boolean;
  force?: boolean;
  json?: boolean;
}

export function printPlan(plan: Plan, json: boolean | undefined, extra: Record<string, unknown> = {}): void {
  if (json) {
    printJson({ ok: plan.ok, kmsgSize: plan.kmsgSize, zones: plan.zones, zonesPerBlock: plan.zonesPerBlock, verdicts: plan.verdicts, log: plan.log, ...extra });
    return;
  }
  for (const v of plan.verdicts) {
    const mark = v.ok ? 'ok  ' : v.severity === 'error' ? (v.reached ? 'FAIL' : 'fail') : 'warn';
    process.stdout.write(`${mark}  ${v.id}: ${v.rule}${v.message && !v.ok ? ` — "${v.message}"${v.errno ? ` (${v.errno})` : ''}` : ''}${v.hint && !v.ok ? `\n      → ${v.hint}` : ''}\n`);
  }
  for (const l of plan.log) process.stdout.write(`log: ${l}\n`);
  process.stdout.write(`${plan.ok ? 'valid' : 'INVALID'}: kmsg zone ${plan.kmsgSize} bytes, ${plan.zones} zones${plan.zonesPerBlock !== undefined ? `, ${plan.zonesPerBlock} per erase block` : ''}\n`);
}

export function registerCreate(program: Command): void {
  program
    .command('create')
    .description('validate a configuration and create a blank image of it (with --write), plus a sidecar <image>.mtdpstore.json')
    .argument('<image>', 'image file to create')
    .requiredOption('--size <size>', 'partition or disk size (e.g. 1M, 524288)')
    .addOption(new Option('--medium <medium>', 'mtd: raw flash for mtdpstore; block: a disk for pstore_blk').choices(['mtd', 'block']).default('mtd'))
    .addOption(new Option('--type <type>', 'flash type').choices(['nand', 'nor', 'ram']).default('nand'))
    .option('--erasesize <size>', 'erase block size', '128k')
    .option('--writesize <size>', 'page size (NAND; NOR is 1)')
    .option('--oobsize <size>', 'OOB bytes per page (with --oob)', '0')
    .option('--oob', 'write the image with OOB after every page (nanddump --oob layout)')
    .option('--bad-blocks <list>', 'factory bad blocks to mark (needs --oob)')
    .option('--kmsg-size <KiB>', 'pstore_blk.kmsg_size in KiB (converted exactly as the kernel does)', '64')
    .option('--max-reason <n>', 'pstore_blk.max_reason', '2')
    .option('--abi <abi>', 'ABI of the kernel that will use the image (recorded in the sidecar)', 'lp64')
    .addOption(new Option('--endian <order>', 'byte order').choices(['le', 'be']).default('le'))
    .addOption(new Option('--policy <policy>', 'mtdpstore policy whose attach checks apply').choices(['kernel', 'hardened']).default('hardened'))
    .option('--kernel <version>', 'kernel release whose rules apply (e.g. 5.10, 6.1)')
    .option('--write', 'really create the file (without it: validate only)')
    .option('--force', 'replace an existing file')
    .option('--json', 'print the verdicts as JSON')
    .action(
      action((image: string, f: CreateFlags) => {
        const a = parseAbi(f.abi ?? 'lp64');
        if (!a) throw new PstoreError('EINVAL', `--abi: unknown ABI "${f.abi}": use lp64, ilp32-a8, ilp32-a4, m68k or an arch name`);
        const o: PlanOptions & { oob?: boolean; overwrite?: boolean } = {
          medium: f.medium,
          size: parseBytes(f.size, '--size'),
          kmsgSizeKiB: parseIntOption(f.kmsgSize, '--kmsg-size'),
          maxReason: parseIntOption(f.maxReason, '--max-reason'),
          type: f.type,
          erasesize: parseBytes(f.erasesize ?? '128k', '--erasesize'),
          writesize: f.writesize !== undefined ? parseBytes(f.writesize, '--writesize') : undefined,
          oobsize: parseBytes(f.oobsize ?? '0', '--oobsize'),
          oob: f.oob,
          badBlocks: f.badBlocks !== undefined ? parseBlockList(f.badBlocks, '--bad-blocks') : undefined,
          abi: { cls: a.cls, endian: f.endian ?? a.endian ?? 'le' },
          policy: f.policy,
          kernelVersion: f.kernel,
          overwrite: f.force,
        };
        if (o.oob && !o.oobsize) o.oobsize = 64;
        if (!f.write) {
          const plan = planImage(o);
          printPlan(plan, f.json, { written: false });
          if (!f.json) process.stderr.write(`mtdpstore: nothing written (validation only): add --write to create ${image}\n`);
          return plan.ok ? EXIT.OK : EXIT.BAD_INPUT;
        }
        const plan = createPstoreImage(image, o);
        printPlan(plan, f.json, { written: true, image });
        if (!f.json) process.stderr.write(`mtdpstore: created ${image} (${o.size} bytes${o.medium === 'mtd' ? `, ${o.type ?? 'nand'} flash, policy ${o.policy}` : ', disk'}) and ${image}.mtdpstore.json\n`);
        return EXIT.OK;
      }),
    );
}

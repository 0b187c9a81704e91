import * as fs from 'node:fs';
import { Option, type Command } from 'commander';
import { PstoreError } from '../../errors.js';
import { storeDump } from '../../api/write.js';
import { buildDump } from '../../pstore/dump.js';
import type { KmsgLine } from '../../pstore/kmsg-format.js';
import { KMSG_REASON_BY_NAME } from '../../zone/format.js';
import { EXIT } from '../exit-codes.js';
import { addWriteOptions, reportWrite, requireWrite, writeOptions, type WriteFlags } from '../write-options.js';
import { action } from '../run.js';
import { parseIntOption } from '../units.js';


/** "1796313846.274529865" or "1796313846" → {sec, nsec}. */
export function parseTime(text: string): { sec: number; nsec: number } {
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (!m) throw new PstoreError('EINVAL', `--time: "${text}" is not seconds[.nanoseconds] since the epoch (e.g. 1796313846.274529865)`);
  return { sec: Number(m[1]), nsec: m[2] ? Number(m[2].padEnd(9, '0')) : 0 };
}

function readInput(file: string | undefined): Buffer {
  if (file === undefined || file === '-') return fs.readFileSync(0);
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new PstoreError('ENOENT', `${file}: cannot read the log to dump (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** A JSON array of {level, timeUs?, facility?, caller?, text} is structured log; anything else is raw text lines. */
function parseLog(input: Buffer): KmsgLine[] | string[] {
  const text = input.toString('utf8');
  if (/^\s*\[/.test(text)) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new PstoreError('EINVAL', `the log looks like JSON but does not parse (${(e as Error).message}): give an array of {level, timeUs, text} or plain text`);
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'object' && x !== null && typeof (x as KmsgLine).text === 'string' && Number.isInteger((x as KmsgLine).level))) {
      throw new PstoreError('EINVAL', 'a JSON log must be an array of objects with integer "level" and string "text" (optional "timeUs", "facility", "caller")');
    }
    return v as KmsgLine[];
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function registerDump(program: Command): void {
  addWriteOptions(
    program
      .command('dump')
      .description('store a kmsg dump as pstore core would at an oops/panic (needs --write)')
      .argument('<image>', 'image file')
      .argument('[log]', 'the kernel log, oldest first: plain text lines, or a JSON array of {level, timeUs, text}; - or nothing for stdin')
      .addOption(new Option('--reason <reason>', 'dump reason').choices(['oops', 'panic', 'emerg', 'shutdown']).makeOptionMandatory())
      .option('--time <sec.nsec>', 'record time in seconds[.nanoseconds] since the epoch [now]')
      .option('--compress', 'deflate the record as Linux ≥ 6.6 does by default')
      .addOption(new Option('--era <era>', 'pstore core behaviour to imitate').choices(['v6.6+', 'pre-v6.6']).default('v6.6+'))
      .option('--oops-count <n>', "pstore core's per-boot dump count (the N of 'Oops#N Part1')", '1'),
  ).action(
    action((image: string, logFile: string | undefined, flags: WriteFlags & { reason: string; time?: string; compress?: boolean; era: 'v6.6+' | 'pre-v6.6'; oopsCount: string }) => {
      const reason = KMSG_REASON_BY_NAME[flags.reason]!;
      const time = flags.time !== undefined ? parseTime(flags.time) : nowTime();
      const oopsCount = parseIntOption(flags.oopsCount, '--oops-count');
      requireWrite(flags, `store a ${flags.reason} dump in ${image}`);
      const log = parseLog(readInput(logFile));
      if (log.length === 0) throw new PstoreError('EINVAL', 'the log is empty: the kernel stores nothing for an empty log');
      const rep = storeDump(
        image,
        (bufsize) => {
          const d = buildDump({ reason, oopsCount, bufsize, log, compress: flags.compress, era: flags.era });
          if (!d) throw new PstoreError('EINVAL', 'the log is empty');
          return { reason, time, compressed: d.compressed, data: d.data };
        },
        writeOptions(flags),
      );
      reportWrite(rep, flags);
      const out = rep.outcome;
      if (!flags.json) {
        if (out && out.zone !== null) process.stderr.write(`mtdpstore: stored in zone ${out.zone} (dmesg-pstore_blk-${out.zone}), counter ${out.counter}\n`);
      }
      if (!out || out.zone === null || out.result < 0) {
        process.stderr.write(`mtdpstore: the dump was NOT stored: no zone accepted it${out ? ` (${out.attempts} tried)` : ''}\n`);
        return EXIT.FAILED;
      }
      return EXIT.OK;
    }),
  );
}

function nowTime(): { sec: number; nsec: number } {
  const ns = process.hrtime.bigint();
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 + Number(ns % 1_000_000n) };
}

/**
 * Replay runner: apply a JSON script of mtdpstore operations to a simulated
 * flash (blank, or loaded from an image) with a chosen policy, and report the
 * device counters after every step. A script is one boot; `reboot` starts a
 * fresh one (kmsg_write_cnt back to 0).
 *
 * Script schema (every field checked; unknown ops or fields → EINVAL):
 *
 * ```json
 * { "geometry": { "type": "nand", "size": 524288, "erasesize": 131072, "writesize": 2048,
 *                 "oobsize": 64, "badBlocks": [2] },
 *   "config":   { "kmsgSize": 65536, "maxReason": 2 },
 *   "ops": [ { "op": "attach" }, { "op": "recover" },
 *            { "op": "write", "reason": "oops", "time": { "sec": 1796313846, "nsec": 274529865 },
 *              "compressed": true, "payload": "rec1.bin" },
 *            { "op": "panic-write", "time": { … }, "compressed": false, "payload": "p.bin" },
 *            { "op": "remove", "name": "dmesg-pstore_blk-1" }, { "op": "detach" },
 *            { "op": "snapshot", "name": "s1" }, { "op": "reboot" } ] }
 * ```
 *
 * Payload paths are relative to `baseDir`; a payload file holds the record
 * bytes exactly as stored after the kmsg sub-header. `snapshot` writes
 * `<snapshotDir>/<name>.img` (the data area, no OOB).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { PowerCut, PstoreError } from '../errors.js';
import { FlashSimulator, type SimulatorOptions } from '../mtd/simulator.js';
import type { MtdType } from '../mtd/device.js';
import type { KmsgWriteOutcome } from '../zone/engine.js';
import { KMSG_REASON_BY_NAME, KmsgReason } from '../zone/format.js';
import type { MtdPstorePolicy } from './backend.js';
import { MtdPstoreSession } from './session.js';

export interface ReplayGeometry {
  type: MtdType;
  size: number;
  erasesize: number;
  writesize?: number;
  oobsize?: number;
  /** Factory bad blocks (block numbers, NAND only). */
  badBlocks?: number[];
}

export interface ReplayDump {
  reason?: string | number;
  time: { sec: number; nsec: number };
  compressed: boolean;
  payload: string;
}

export type ReplayOp =
  | { op: 'attach' }
  | { op: 'recover' }
  | ({ op: 'write' } & ReplayDump)
  | ({ op: 'panic-write' } & ReplayDump)
  | { op: 'remove'; name: string }
  | { op: 'detach' }
  | { op: 'snapshot'; name: string }
  | { op: 'reboot' };

export interface ReplayScript {
  geometry: ReplayGeometry;
  config: { kmsgSize: number; maxReason?: number };
  ops: ReplayOp[];
}

export interface ReplayOptions {
  /** Directory payload paths are relative to. */
  baseDir: string;
  /** Starting image (data only, size = geometry.size); default blank flash. */
  image?: Buffer;
  policy: MtdPstorePolicy;
  /** Where `snapshot` ops write `<name>.img`; without it, snapshots are only returned. */
  snapshotDir?: string;
}

/** Device counters (cumulative since the start of the replay). */
export interface ReplayCounters {
  erases: number;
  /** Normal program calls (mtd_write). */
  programs: number;
  /** Panic program calls (mtd_panic_write). */
  panicWrites: number;
  /** Read calls (mtd_read). */
  reads: number;
  /** Pages programmed by either kind of write. */
  pagesProgrammed: number;
}

export interface ReplayStep {
  index: number;
  op: ReplayOp['op'];
  /** Counters after the step. */
  counters: ReplayCounters;
  /** Counters of this step alone. */
  delta: ReplayCounters;
  /** Files listed (recover). */
  files?: string[];
  /** Recovery error (recover), as a negative errno. */
  error?: number;
  /** What pstore/zone did with a dump (write, panic-write). */
  outcome?: KmsgWriteOutcome | null;
  /** Backend/erase result (remove) or flush result (detach). */
  result?: number;
  /** Snapshot file written (snapshot). */
  file?: string;
}

export interface ReplayResult {
  steps: ReplayStep[];
  /** Every log line of every layer. */
  log: string[];
  /** Snapshots by name (data area). */
  snapshots: Map<string, Buffer>;
  /** The flash content after the last step. */
  image: Buffer;
  /** The simulator, for further inspection. */
  device: FlashSimulator;
}

const REASONS = KMSG_REASON_BY_NAME;

const OP_FIELDS: Record<string, { required: string[]; optional: string[] }> = {
  attach: { required: [], optional: [] },
  recover: { required: [], optional: [] },
  write: { required: ['time', 'compressed', 'payload'], optional: ['reason'] },
  'panic-write': { required: ['time', 'compressed', 'payload'], optional: ['reason'] },
  remove: { required: ['name'], optional: [] },
  detach: { required: [], optional: [] },
  snapshot: { required: ['name'], optional: [] },
  reboot: { required: [], optional: [] },
};

function fail(msg: string): never {
  throw new PstoreError('EINVAL', msg);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Record<string, unknown>, where: string, required: string[], optional: string[]): void {
  const allowed = new Set([...required, ...optional]);
  const unknown = Object.keys(obj).filter((k) => !allowed.has(k));
  if (unknown.length) fail(`${where}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (allowed: ${[...allowed].join(', ') || 'none'})`);
  const missing = required.filter((k) => !(k in obj));
  if (missing.length) fail(`${where}: missing field${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
}

function int(v: unknown, where: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(`${where} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/** Check a parsed script against the schema; throws PstoreError EINVAL naming the first problem. */
export function validateScript(script: unknown): ReplayScript {
  if (!isObject(script)) fail('replay script must be a JSON object with geometry, config and ops');
  checkKeys(script, 'script', ['geometry', 'config', 'ops'], []);
  const g = script.geometry;
  if (!isObject(g)) fail('geometry must be an object');
  checkKeys(g, 'geometry', ['type', 'size', 'erasesize'], ['writesize', 'oobsize', 'badBlocks']);
  if (g.type !== 'nand' && g.type !== 'nor' && g.type !== 'ram') fail(`geometry.type must be "nand", "nor" or "ram", got ${JSON.stringify(g.type)}`);
  int(g.size, 'geometry.size', 1);
  int(g.erasesize, 'geometry.erasesize', 1);
  if (g.writesize !== undefined) int(g.writesize, 'geometry.writesize', 1);
  if (g.oobsize !== undefined) int(g.oobsize, 'geometry.oobsize');
  if (g.badBlocks !== undefined) {
    if (!Array.isArray(g.badBlocks)) fail('geometry.badBlocks must be an array of block numbers');
    g.badBlocks.forEach((b, i) => int(b, `geometry.badBlocks[${i}]`));
  }
  const c = script.config;
  if (!isObject(c)) fail('config must be an object');
  checkKeys(c, 'config', ['kmsgSize'], ['maxReason']);
  int(c.kmsgSize, 'config.kmsgSize (bytes)', 1);
  if (c.maxReason !== undefined) int(c.maxReason, 'config.maxReason');
  if (!Array.isArray(script.ops)) fail('ops must be an array');
  script.ops.forEach((o, i) => {
    const where = `ops[${i}]`;
    if (!isObject(o)) fail(`${where} must be an object with an "op" field`);
    const name = o.op;
    if (typeof name !== 'string' || !(name in OP_FIELDS)) {
      fail(`${where}: unknown op ${JSON.stringify(name)} (known: ${Object.keys(OP_FIELDS).join(', ')})`);
    }
    const spec = OP_FIELDS[name]!;
    checkKeys(o, `${where} (${name})`, ['op', ...spec.required], spec.optional);
    if (name === 'write' || name === 'panic-write') {
      const t = o.time;
      if (!isObject(t)) fail(`${where}.time must be {"sec": …, "nsec": …}`);
      checkKeys(t, `${where}.time`, ['sec', 'nsec'], []);
      if (typeof t.sec !== 'number' || !Number.isSafeInteger(t.sec)) fail(`${where}.time.sec must be an integer`);
      int(t.nsec, `${where}.time.nsec`);
      if (typeof o.compressed !== 'boolean') fail(`${where}.compressed must be true or false`);
      if (typeof o.payload !== 'string' || o.payload === '') fail(`${where}.payload must be a file path`);
      if (o.reason !== undefined) reasonOf(o.reason, where);
    }
    if ((name === 'remove' || name === 'snapshot') && (typeof o.name !== 'string' || o.name === '')) {
      fail(`${where}.name must be a non-empty string`);
    }
    if (name === 'snapshot' && /[/\\]/.test(o.name as string)) fail(`${where}.name must be a plain file name without slashes`);
  });
  return script as unknown as ReplayScript;
}

function reasonOf(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && v.toLowerCase() in REASONS) return REASONS[v.toLowerCase()]!;
  return fail(`${where}.reason must be one of ${Object.keys(REASONS).join(', ')} or a number, got ${JSON.stringify(v)}`);
}

function counters(dev: FlashSimulator): ReplayCounters {
  const s = dev.stats;
  return { erases: s.erases, programs: s.programs, panicWrites: s.panicWrites, reads: s.reads, pagesProgrammed: s.pagesProgrammed };
}

function minus(a: ReplayCounters, b: ReplayCounters): ReplayCounters {
  return {
    erases: a.erases - b.erases,
    programs: a.programs - b.programs,
    panicWrites: a.panicWrites - b.panicWrites,
    reads: a.reads - b.reads,
    pagesProgrammed: a.pagesProgrammed - b.pagesProgrammed,
  };
}

/**
 * Run a replay script. Throws PstoreError EINVAL for schema errors (before
 * anything runs), ENOENT for a missing payload file, and whatever an op
 * throws (e.g. EINVAL for a refused geometry at attach, ENOENT for removing
 * a file that is not listed), with the failing step in the message.
 */
export function runReplay(scriptIn: unknown, opts: ReplayOptions): ReplayResult {
  const script = validateScript(scriptIn);
  if (opts.policy !== 'kernel' && opts.policy !== 'hardened') fail(`policy must be 'kernel' or 'hardened', got ${JSON.stringify(opts.policy)}`);
  const g = script.geometry;
  const simOpts: SimulatorOptions = {
    type: g.type,
    size: g.size,
    erasesize: g.erasesize,
    writesize: g.writesize,
    oobsize: g.oobsize ?? (g.type === 'nand' ? 64 : 0),
    badBlocks: g.badBlocks,
    name: 'pstore',
    index: 0,
  };
  if (g.type !== 'nand') delete simOpts.oobsize;
  const dev = opts.image ? FlashSimulator.fromImage(opts.image, simOpts) : new FlashSimulator(simOpts);
  const session = new MtdPstoreSession(dev, {
    kmsgSize: script.config.kmsgSize,
    maxReason: script.config.maxReason,
    policy: opts.policy,
  });
  const payloads = new Map<string, Buffer>();
  const payload = (p: string, where: string): Buffer => {
    let b = payloads.get(p);
    if (!b) {
      try {
        b = readFileSync(path.resolve(opts.baseDir, p));
      } catch (e) {
        throw new PstoreError('ENOENT', `${where}: cannot read payload ${JSON.stringify(p)} relative to ${opts.baseDir}: ${(e as Error).message}`);
      }
      payloads.set(p, b);
    }
    return b;
  };
  const steps: ReplayStep[] = [];
  const snapshots = new Map<string, Buffer>();
  let before = counters(dev);
  script.ops.forEach((o, index) => {
    const where = `ops[${index}] (${o.op})`;
    const step: Partial<ReplayStep> = {};
    try {
      switch (o.op) {
        case 'attach':
          session.attach();
          break;
        case 'recover': {
          const l = session.list();
          if (l.ok) step.files = session.fileNames();
          else step.error = l.error;
          break;
        }
        case 'write':
        case 'panic-write': {
          const reason = o.reason === undefined ? (o.op === 'write' ? KmsgReason.OOPS : KmsgReason.PANIC) : reasonOf(o.reason, where);
          const req = { reason, time: { sec: o.time.sec, nsec: o.time.nsec }, compressed: o.compressed, data: payload(o.payload, where) };
          step.outcome = o.op === 'write' ? session.write(req) : session.panicWrite(req);
          break;
        }
        case 'remove':
          step.result = session.remove(o.name);
          break;
        case 'detach':
          step.result = session.detach();
          break;
        case 'snapshot': {
          const img = dev.exportImage();
          snapshots.set(o.name, img);
          if (opts.snapshotDir) {
            step.file = path.join(opts.snapshotDir, `${o.name}.img`);
            try {
              mkdirSync(opts.snapshotDir, { recursive: true });
              writeFileSync(step.file, img);
            } catch (e) {
              throw new PstoreError('EIO', `cannot write ${step.file}: ${(e as Error).message}: choose a writable --snapshot-dir`, { cause: e });
            }
          }
          break;
        }
        case 'reboot':
          session.reboot();
          break;
      }
    } catch (e) {
      if (e instanceof PowerCut) throw e;
      if (e instanceof PstoreError) throw new PstoreError(e.code, `${where}: ${e.message}`, { cause: e });
      throw e;
    }
    const now = counters(dev);
    steps.push({ index, op: o.op, counters: now, delta: minus(now, before), ...step });
    before = now;
  });
  return { steps, log: session.log, snapshots, image: dev.exportImage(), device: dev };
}

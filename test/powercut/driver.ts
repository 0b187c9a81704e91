/**
 * Runs a workload script against a device through MtdPstoreSession and keeps
 * the model the checks compare with: which dumps were committed (their
 * write call returned), which removals were committed (remove() returned),
 * and which step was in flight when a power cut struck.
 */
import { PowerCut, PstoreError } from '../../src/errors.js';
import { MtdPstoreSession, dmesgFileName } from '../../src/mtdpstore/session.js';
import type { MtdPstorePolicy } from '../../src/mtdpstore/backend.js';
import { PSZ_SIG, PstoreType } from '../../src/zone/format.js';
import type { LoggingDevice } from './device-log.js';
import { dumpOfTime, dumpRequest, type Step, type Workload } from './workload.js';

/** A dump whose write call returned. */
export interface CommittedDump {
  i: number;
  panic: boolean;
  /** Workload step that wrote it. */
  step: number;
  boot: number;
  /** Commit order (0, 1, …). */
  seq: number;
  /** What pstore/zone reported: 0 = on flash; -EBUSY = kept in RAM (dirty) or no zone took it. */
  result: number;
  zone: number | null;
  counter: number;
  /** No successful listing (recovery) in this boot before the write. */
  beforeRecovery: boolean;
  /** The target zone's RAM signature was the dmesg signature (false: W5's 0xFFFFFFFF). */
  sigOk: boolean;
  /** The program landed on flash that was not erased. */
  overProgrammed: boolean;
  /** Device events before this index happened before the commit. */
  eventIndex: number;
}

/** A removal whose remove() call returned. */
export interface CommittedRemoval {
  i: number;
  step: number;
  /** Zone (file id) the record was listed at. */
  zone: number;
  result: number;
  /** Device operations the removal issued (0: it lived in RAM only). */
  deviceOps: number;
  /**
   * The policy kept the removal in RAM only (no device operation, a removed
   * bit newly set): hardened does this on NAND when there is no room to move
   * the survivors of the block (documented); the kernel always for lazy removals (W4).
   */
  ramOnly: boolean;
  eventIndex: number;
}

/** The step in flight when the cut came. */
export interface PendingStep {
  index: number;
  step: Step;
  /** Dump being written, or record being removed. */
  i: number | null;
}

export interface Model {
  committed: Map<number, CommittedDump>;
  removed: Map<number, CommittedRemoval>;
  pending: PendingStep | null;
  /** Per detach step: erase blocks holding a removed zone when it began (what the flush may erase). */
  detachRmBlocks: Map<number, Set<number>>;
}

export interface DriveResult {
  model: Model;
  /** The power cut that stopped the run, or null if the script completed. */
  cut: PowerCut | null;
  /** Any other exception that escaped the stack (a failure of the campaign). */
  unexpected: { step: number; error: unknown } | null;
  /** Device operation count at the start of each step run (before its first operation). */
  stepStartOps: number[];
}

export interface DriveOptions {
  workload: Workload;
  policy: MtdPstorePolicy;
  kmsgSize: number;
  /** Called before each step and once after the last (index = steps.length), never after a cut. */
  onBoundary?: (index: number, model: Model, boot: number) => void;
  /**
   * Start at step `index` (an `attach` step: no RAM state is carried over)
   * with the model as it was there; the device must hold the state it had.
   */
  resume?: { index: number; model: Model; boot: number };
}

/** A copy of a model that later steps of another run cannot change (entries are never mutated). */
export function cloneModel(m: Model): Model {
  return {
    committed: new Map(m.committed),
    removed: new Map(m.removed),
    pending: m.pending ? { ...m.pending } : null,
    detachRmBlocks: new Map(m.detachRmBlocks),
  };
}

/** Execute the script until it ends or the device loses power. */
export function drive(dev: LoggingDevice, opts: DriveOptions): DriveResult {
  const { workload, policy, kmsgSize } = opts;
  const model: Model = opts.resume ? cloneModel(opts.resume.model) : { committed: new Map(), removed: new Map(), pending: null, detachRmBlocks: new Map() };
  const stepStartOps: number[] = [];
  let s: MtdPstoreSession | null = null;
  let boot = opts.resume?.boot ?? -1;
  if (opts.resume && workload.steps[opts.resume.index]?.kind !== 'attach') {
    throw new Error(`resume at step ${opts.resume.index}: not an attach step`);
  }
  let recovered = false;
  /** Latest listing of this boot: dump number → file id, for the records that are ours and intact enough to name. */
  let listed = new Map<number, number>();

  const commitDump = (i: number, panic: boolean, stepIdx: number, evStart: number): void => {
    const eng = s!.engine;
    const out = eng.lastKmsgWrite;
    const zone = out?.zone ?? null;
    let sigOk = true;
    if (zone !== null) {
      const st = eng.zoneStates().find((z) => z.type === PstoreType.DMESG && z.index === zone);
      sigOk = st !== undefined && st.sig >>> 0 === PSZ_SIG;
    }
    const zoneStart = zone === null ? -1 : zone * kmsgSize;
    const overProgrammed = dev.events
      .slice(evStart)
      .some((e) => e.op !== 'erase' && e.off === zoneStart && e.overProgrammed);
    model.committed.set(i, {
      i,
      panic,
      step: stepIdx,
      boot,
      seq: model.committed.size,
      result: out?.result ?? -1,
      zone,
      counter: out?.counter ?? 0,
      beforeRecovery: !recovered,
      sigOk,
      overProgrammed,
      eventIndex: dev.events.length,
    });
  };

  const steps = workload.steps;
  for (let idx = opts.resume?.index ?? 0; idx < steps.length; idx++) {
    opts.onBoundary?.(idx, model, boot);
    const step = steps[idx]!;
    stepStartOps.push(dev.sim.opCount);
    dev.step = idx;
    const evStart = dev.events.length;
    model.pending = { index: idx, step, i: step.kind === 'dump' || step.kind === 'panic' ? step.i : null };
    try {
      switch (step.kind) {
        case 'attach':
          boot++;
          dev.phase = 'attach';
          recovered = false;
          listed = new Map();
          s = new MtdPstoreSession(dev, { kmsgSize, policy });
          s.attach();
          break;
        case 'list': {
          dev.phase = 'list';
          const l = s!.list();
          listed = new Map();
          if (l.ok) {
            recovered = true;
            for (const r of l.records) {
              if (r.type !== PstoreType.DMESG) continue;
              const i = dumpOfTime(r.time);
              if (i >= 0 && !listed.has(i)) listed.set(i, r.id);
            }
          }
          break;
        }
        case 'remove': {
          dev.phase = 'remove';
          const cands = [...listed.keys()].filter((i) => model.committed.has(i) && !model.removed.has(i)).sort((a, b) => a - b);
          if (cands.length === 0) break;
          const i = cands[Math.min(cands.length - 1, Math.floor(step.pick * cands.length))]!;
          const zone = listed.get(i)!;
          model.pending.i = i;
          const rmBefore = new Set(s!.backend.rmmap.list());
          const rc = s!.remove(dmesgFileName(zone));
          listed.delete(i);
          const deviceOps = dev.events.length - evStart;
          const ramOnly = deviceOps === 0 && s!.backend.rmmap.list().some((z) => !rmBefore.has(z));
          model.removed.set(i, { i, step: idx, zone, result: rc, deviceOps, ramOnly, eventIndex: dev.events.length });
          break;
        }
        case 'dump':
          dev.phase = 'dump';
          s!.write(dumpRequest(step.i, workload.lengths[step.i]!, false));
          commitDump(step.i, false, idx, evStart);
          break;
        case 'panic':
          dev.phase = 'panic';
          s!.panicWrite(dumpRequest(step.i, workload.lengths[step.i]!, true));
          commitDump(step.i, true, idx, evStart);
          break;
        case 'detach': {
          dev.phase = 'detach';
          const zpb = dev.geometry.erasesize / kmsgSize;
          model.detachRmBlocks.set(idx, new Set(s!.backend.rmmap.list().map((z) => Math.floor(z / zpb))));
          s!.detach();
          s = null;
          break;
        }
        case 'off':
          // RAM state is gone; the flash keeps what it has.
          s = null;
          break;
      }
    } catch (e) {
      if (e instanceof PowerCut) return { model, cut: e, unexpected: null, stepStartOps };
      return { model, cut: null, unexpected: { step: idx, error: e }, stepStartOps };
    }
    model.pending = null;
  }
  opts.onBoundary?.(steps.length, model, boot);
  return { model, cut: null, unexpected: null, stepStartOps };
}

/** One-line description of an exception for reports. */
export function describeError(e: unknown): string {
  if (e instanceof PstoreError) return `PstoreError ${e.code}: ${e.message}`;
  if (e instanceof Error) return `${e.name}: ${e.message}${e.stack ? `\n${e.stack.split('\n').slice(1, 6).join('\n')}` : ''}`;
  return String(e);
}

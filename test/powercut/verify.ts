/**
 * What is checked after a power cut (or at a clean step boundary): a fresh
 * session attaches to the flash as the next boot would, lists, and the
 * listing is compared with the model; then one more dump is written and a
 * further fresh recovery must list it.
 *
 * Definitions (docs/POLICIES.md, "Power cuts"):
 * - committed dump: its write()/panicWrite() call returned before the cut
 *   (pstore core is told "stored" whatever happens below, as in the kernel);
 * - committed removal: remove() returned before the cut;
 * - retained: a committed, not removed dump with fewer than `window`
 *   dumps committed after it (the dump in flight counts as one) — older
 *   ones may have been evicted by the ring;
 * - identical: listed with the same time (sec, nsec), reason, compressed
 *   flag and payload bytes; the counter ("Total N times") is compared
 *   separately and only reported;
 * - lost: retained but not listed identical; resurrected: a committed
 *   removal listed again (any copy); wedged: the dump written after the
 *   reboot is not listed identical by a further fresh recovery.
 */
import { PSZ_SIG, PstoreType, reasonString } from '../../src/zone/format.js';
import type { PstoreRecord } from '../../src/zone/record.js';
import type { MtdPstorePolicy } from '../../src/mtdpstore/backend.js';
import { MtdPstoreSession } from '../../src/mtdpstore/session.js';
import type { DeviceEvent, LoggingDevice } from './device-log.js';
import { describeError, type CommittedDump, type Model } from './driver.js';
import { dumpOfTime, dumpRequest, payload, isCompressed, type Workload } from './workload.js';

export interface Finding {
  /** Dump number. */
  i: number;
  /** Cause, starting with the weakness number when one explains it. */
  cause: string;
}

export interface Verdict {
  /** The first recovery after the reboot succeeded. */
  listingOk: boolean;
  lost: Finding[];
  resurrected: Finding[];
  /**
   * Hardened only: removals the policy kept in RAM (NAND, no room to move the
   * survivors — a documented limitation, docs/POLICIES.md) listed again.
   * Not counted as resurrections.
   */
  deferredBack: Finding[];
  /** Cause, or null when the next dump was stored. */
  wedged: string | null;
  /** Exception from the checks themselves (attach, list, write): always a failure. */
  unexpected: string | null;
  /** The dump being written at the cut was listed but not identical (a torn record; not counted as lost). */
  tornPending: number;
  /** Listed dmesg records that are not any dump of the workload (garbage). */
  garbage: number;
  /** Extra identical copies of a dump (e.g. a relocation cut before the erase). */
  duplicates: number;
  /** Retained dumps listed identical but with another counter. */
  counterChanged: number;
  /** Committed dumps beyond the window that were not listed (ring eviction; allowed). */
  evicted: number;
  /** Retained dumps checked (the denominator of `lost`). */
  checked: number;
  /** Dump numbers listed identical (for comparisons between cases). */
  present: Set<number>;
}

export interface VerifyContext {
  dev: LoggingDevice;
  workload: Workload;
  policy: MtdPstorePolicy;
  kmsgSize: number;
  model: Model;
  /** Retention window (see the module comment). */
  window: number;
}

/** Dump number of the post-reboot dump (beyond every workload dump). */
function markerNumber(w: Workload): number {
  return w.lengths.length + 1000;
}

function identical(r: PstoreRecord, i: number, len: number, reason: number): boolean {
  if (r.reason !== reason || r.compressed !== isCompressed(i)) return false;
  const want = payload(i, len);
  if (r.compressed) return r.data.equals(want);
  const nl = r.data.indexOf(0x0a);
  if (nl < 0) return false;
  const head = r.data.subarray(0, nl).toString('latin1');
  if (head !== `${reasonString(reason)}: Total ${r.count | 0} times`) return false;
  return r.data.subarray(nl + 1).equals(want);
}

function touches(e: DeviceEvent, zone: number, Z: number): boolean {
  const a = zone * Z;
  return e.off < a + Z && a < e.off + e.len;
}

/** Why retained dump `d` is missing (kernel weaknesses by number). */
function lossCause(ctx: VerifyContext, d: CommittedDump, listingOk: boolean, zombies: boolean): string {
  const nor = ctx.dev.geometry.type !== 'nand';
  const Z = ctx.kmsgSize;
  if (!listingOk) return 'Z2/Z3: recovery failed, nothing listed';
  if (d.result !== 0 || d.zone === null) {
    if (d.zone === null) return 'W7/W8: no zone accepted the dump (every zone answered -ENOMSG)';
    if (d.panic && d.beforeRecovery) return 'W9: panic before the first mount hit a programmed zone; kept in RAM, lost';
    if (d.overProgrammed) return 'W1: written over a lazily removed (still programmed) zone; kept in RAM, lost';
    return `write failed (${d.result}); kept in RAM, lost`;
  }
  if (d.overProgrammed) {
    if (d.panic && d.beforeRecovery) return 'W9: panic before the first mount ANDed over a programmed zone';
    return nor ? 'W6: written over a programmed zone (NOR: every zone looks free), bits ANDed' : 'W1: written over a programmed zone';
  }
  if (!d.sigOk) return 'W5: written with the erased signature 0xFFFFFFFF, invisible to recovery';
  if (d.zone === null) return 'unexplained';
  const ev = ctx.dev.events;
  const E = ctx.dev.geometry.erasesize;
  for (let n = d.eventIndex; n < ev.length; n++) {
    const e = ev[n]!;
    if (!touches(e, d.zone, Z) || e.failed) continue;
    if (e.op === 'erase') {
      if (e.phase === 'check-list' || e.phase === 'list') return 'W5: the recovery security step erased the block before reading it';
      if (e.phase === 'detach' && !ctx.model.detachRmBlocks.get(e.step)?.has(Math.floor(e.off / E))) {
        // Not a flush erase: the security step after a write of the unregistration's dirty-zone flush.
        const prev = ev.slice(0, n).reverse().find((w) => w.step === e.step && w.op === 'write' && !w.failed);
        const dirty = prev && [...ctx.model.committed.values()].some((c) => c.result !== 0 && c.zone !== null && c.zone * Z === prev.off);
        if (dirty) return 'W1 aftermath: a record kept dirty after a failed write was flushed at detach behind the ring position; the security step then erased the next block, holding this newer record';
        if (zombies) return 'W4/W2: removed records came back and fill zones; the security step (ring order) erased this young record';
        return 'security step (dirty-zone flush at detach) erased it inside the window';
      }
      if (e.phase === 'detach') {
        if (e.cut) return 'W3: power cut during the detach-flush erase of its block';
        const back = ev.slice(n + 1).find((w) => w.step === e.step && w.op === 'write' && w.off === d.zone! * Z);
        if (!back) return 'W3: power cut between the detach-flush erase and the write-back';
        if (back.cut) return 'W3: power cut during the detach-flush write-back';
        if ((d.zone * Z) % E !== 0) return 'W2: the detach flush wrote the block\'s first zone over it';
        n = ev.indexOf(back);
        continue; // written back intact (first zone of its block)
      }
      if (e.phase === 'remove') return nor ? 'W6: a removal erased its block (NOR: used map empty)' : 'removal erased its block (used map out of date)';
      if (e.phase === 'dump' || e.phase === 'panic' || e.phase === 'check-write') {
        if (zombies) return 'W4/W2: removed records came back and fill zones; the security step (ring order) erased this young record';
        return nor ? 'W6: the security step erased it inside the window (NOR: ring position lost)' : 'security step erased it inside the window';
      }
      return `erased during ${e.phase}`;
    }
    if (e.phase === 'detach') continue; // write-back, handled with its erase
    if (e.overProgrammed) {
      if (e.op === 'panicWrite' && ctx.model.committed.get(dumpAt(ctx, e))?.beforeRecovery) return 'W9: a panic before the first mount was written over it';
      return nor ? 'W6: a later dump was ANDed over it (NOR: every zone looks free)' : 'W1: a later dump was programmed over it';
    }
  }
  return 'unexplained';
}

/** Dump written by event `e` (the step's dump), or -1. */
function dumpAt(ctx: VerifyContext, e: DeviceEvent): number {
  const st = ctx.workload.steps[e.step];
  return st && (st.kind === 'dump' || st.kind === 'panic') ? st.i : -1;
}

function resurrectionCause(ctx: VerifyContext, i: number, ids: number[]): string {
  const rm = ctx.model.removed.get(i)!;
  const d = ctx.model.committed.get(i)!;
  const erasedAtRemoval = ctx.dev.events.some((e) => e.step === rm.step && e.op === 'erase' && d.zone !== null && touches(e, d.zone, ctx.kmsgSize) && !e.failed);
  if (ctx.policy === 'kernel') {
    if (d.zone !== null && ids.some((id) => id !== d.zone)) return 'W2: the detach flush copied it into a surviving zone';
    if (!erasedAtRemoval) return 'W4: lazy removal was kept in RAM only';
    return 'unexplained (its block was erased at removal)';
  }
  if (rm.ramOnly && ctx.dev.geometry.type === 'nand') return 'RAM-only removal (NAND, no free zone to move the survivors to; documented)';
  return 'unexplained';
}

function wedgeCause(ctx: VerifyContext, out: { result: number; zone: number | null } | null, sigOk: boolean, over: boolean, relistOk: boolean): string {
  const nor = ctx.dev.geometry.type !== 'nand';
  if (!out) return 'no write outcome';
  if (out.zone === null) return 'W7/W8: no zone accepted the dump (every zone answered -ENOMSG)';
  if (out.result !== 0) return over ? 'W1: written over a programmed zone; kept in RAM, lost' : `write failed (${out.result})`;
  if (!sigOk) return 'W5: written with the erased signature 0xFFFFFFFF, invisible to recovery';
  if (over) return nor ? 'W6: ANDed over an old record (NOR: every zone looks free)' : 'W1: programmed over a programmed zone';
  if (!relistOk) return 'Z2/Z3: the further recovery failed';
  return 'unexplained';
}

/**
 * Reboot-time checks on the device as it is now (the caller powers the
 * simulator up first). Never throws: exceptions become `unexpected`.
 */
export function verify(ctx: VerifyContext): Verdict {
  const v: Verdict = {
    listingOk: false,
    lost: [],
    resurrected: [],
    deferredBack: [],
    wedged: null,
    unexpected: null,
    tornPending: 0,
    garbage: 0,
    duplicates: 0,
    counterChanged: 0,
    evicted: 0,
    checked: 0,
    present: new Set(),
  };
  const { dev, model, workload, kmsgSize, policy } = ctx;
  dev.step = -1;
  let phase = 'attach';
  try {
    dev.phase = 'check-list';
    const s = new MtdPstoreSession(dev, { kmsgSize, policy });
    s.attach();
    phase = 'list';
    const l = s.list();
    v.listingOk = l.ok;
    const records = l.ok ? l.records.filter((r) => r.type === PstoreType.DMESG) : [];
    const pendingI = model.pending?.i ?? null;
    const pendingDump = model.pending && (model.pending.step.kind === 'dump' || model.pending.step.kind === 'panic') ? pendingI : null;
    const seen = new Map<number, number[]>();
    for (const r of records) {
      const i = dumpOfTime(r.time);
      if (i < 0 || i >= workload.lengths.length) {
        v.garbage++;
        continue;
      }
      const d = model.committed.get(i);
      const reason = d ? (d.panic ? 1 : 2) : r.reason;
      (seen.get(i) ?? seen.set(i, []).get(i)!).push(r.id);
      if (identical(r, i, workload.lengths[i]!, reason)) {
        if (v.present.has(i)) v.duplicates++;
        v.present.add(i);
        if (d && r.count !== d.counter && !model.removed.has(i)) v.counterChanged++;
      } else if (i === pendingDump) {
        v.tornPending++;
      }
    }
    for (const i of model.removed.keys()) {
      const ids = seen.get(i);
      if (!ids) continue;
      const f = { i, cause: resurrectionCause(ctx, i, ids) };
      if (policy === 'hardened' && model.removed.get(i)!.ramOnly) v.deferredBack.push(f);
      else v.resurrected.push(f);
    }
    // Retention: dumps committed after each one (the one in flight counts too).
    const total = model.committed.size + (pendingDump !== null ? 1 : 0);
    for (const d of model.committed.values()) {
      if (model.removed.has(d.i)) continue;
      if (model.pending?.step.kind === 'remove' && pendingI === d.i) continue; // removal in flight: either way
      const newer = total - 1 - d.seq;
      if (newer < ctx.window) v.checked++;
      if (v.present.has(d.i)) continue;
      if (newer >= ctx.window) {
        v.evicted++;
        continue;
      }
      v.lost.push({ i: d.i, cause: lossCause(ctx, d, l.ok, v.resurrected.length > 0) });
    }
    // The next dump must be accepted and listed by a further fresh recovery.
    phase = 'write';
    dev.phase = 'check-write';
    const m = markerNumber(workload);
    const evStart = dev.events.length;
    s.write(dumpRequest(m, 300, false));
    const out = s.engine.lastKmsgWrite;
    let sigOk = true;
    if (out?.zone != null) {
      const st = s.engine.zoneStates().find((z) => z.type === PstoreType.DMESG && z.index === out.zone);
      sigOk = st !== undefined && st.sig >>> 0 === PSZ_SIG;
    }
    const over = dev.events.slice(evStart).some((e) => e.op === 'write' && out?.zone != null && e.off === out.zone * kmsgSize && e.overProgrammed);
    phase = 'relist';
    dev.phase = 'check-relist';
    const s2 = new MtdPstoreSession(dev, { kmsgSize, policy });
    s2.attach();
    const l2 = s2.list();
    const found = l2.ok && l2.records.some((r) => r.type === PstoreType.DMESG && dumpOfTime(r.time) === m && markerIdentical(r, m));
    if (!found) v.wedged = wedgeCause(ctx, out, sigOk, over, l2.ok);
  } catch (e) {
    v.unexpected = `during the post-reboot ${phase}: ${describeError(e)}`;
  }
  return v;
}

function markerIdentical(r: PstoreRecord, m: number): boolean {
  return identical(r, m, 300, 2);
}

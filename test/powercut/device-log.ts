/**
 * An MtdDevice in front of a FlashSimulator that records every program and
 * erase the stack issues (with the workload step and phase it belongs to),
 * so that a lost or resurrected record can be traced to the operation that
 * caused it. It has no `reboot` method on purpose: the sessions of a
 * campaign never power-cycle the simulator themselves (that would disarm the
 * armed cut); the campaign does it once the cut has fired.
 */
import { PowerCut } from '../../src/errors.js';
import type { MtdDevice, MtdGeometry, MtdReadResult } from '../../src/mtd/device.js';
import type { FlashSimulator } from '../../src/mtd/simulator.js';

/** What the workload was doing when an operation was issued. */
export type Phase = 'attach' | 'list' | 'remove' | 'dump' | 'panic' | 'detach' | 'check-list' | 'check-write' | 'check-relist';

/** One program or erase as issued to the device. */
export interface DeviceEvent {
  op: 'write' | 'panicWrite' | 'erase';
  off: number;
  len: number;
  /** Index of the workload step (or -1 during the post-cut checks). */
  step: number;
  phase: Phase;
  /** Program only: the target range was not erased before (programmed over programmed flash). */
  overProgrammed: boolean;
  /** This is the operation the power cut tore. */
  cut: boolean;
  /** The device refused it (PstoreError). */
  failed: boolean;
}

export class LoggingDevice implements MtdDevice {
  readonly geometry: MtdGeometry;
  readonly events: DeviceEvent[] = [];
  step = -1;
  phase: Phase = 'attach';

  constructor(readonly sim: FlashSimulator) {
    this.geometry = sim.geometry;
  }

  /** Forget the log (a new case starts from the start snapshot). */
  reset(): void {
    this.events.length = 0;
    this.step = -1;
    this.phase = 'attach';
  }

  read(off: number, len: number): MtdReadResult {
    return this.sim.read(off, len);
  }

  write(off: number, data: Uint8Array): number {
    return this.program('write', off, data);
  }

  panicWrite(off: number, data: Uint8Array): number {
    return this.program('panicWrite', off, data);
  }

  erase(off: number, len: number = this.geometry.erasesize): void {
    const ev = this.log('erase', off, len, false);
    this.run(ev, () => this.sim.erase(off, len));
  }

  isBad(off: number): boolean {
    return this.sim.isBad(off);
  }

  markBad(off: number): void {
    this.sim.markBad(off);
  }

  sync(): void {
    this.sim.sync();
  }

  close(): void {
    // The simulator outlives every session of a campaign.
  }

  private program(op: 'write' | 'panicWrite', off: number, data: Uint8Array): number {
    const ev = this.log(op, off, data.length, this.isProgrammed(off, data.length));
    return this.run(ev, () => (op === 'write' ? this.sim.write(off, data) : this.sim.panicWrite(off, data)));
  }

  private log(op: DeviceEvent['op'], off: number, len: number, overProgrammed: boolean): DeviceEvent {
    const ev: DeviceEvent = { op, off, len, step: this.step, phase: this.phase, overProgrammed, cut: false, failed: false };
    this.events.push(ev);
    return ev;
  }

  private run<T>(ev: DeviceEvent, f: () => T): T {
    const wasOff = this.sim.poweredOff;
    try {
      return f();
    } catch (e) {
      if (e instanceof PowerCut) ev.cut = !wasOff;
      else ev.failed = true;
      throw e;
    }
  }

  /** Whether any part of the range was programmed since its last erase (NAND: page program counts; NOR: non-0xFF bytes). */
  private isProgrammed(off: number, len: number): boolean {
    if (this.sim.poweredOff || len === 0) return false;
    const g = this.geometry;
    if (g.type === 'nand') {
      const w = g.writesize;
      for (let p = Math.floor(off / w); p < Math.ceil((off + len) / w); p++) if (this.sim.programCount(p) > 0) return true;
      return false;
    }
    const r = this.sim.read(off, len);
    return r.data.some((b) => b !== 0xff);
  }
}

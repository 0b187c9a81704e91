/**
 * An in-memory ZoneBackend for engine tests: a byte array plus hooks that
 * let a test answer any read or write with a chosen value (-ENOMSG, -EIO,
 * a short count...), and a log of every operation.
 */
import type { ZoneBackend } from '../../src/zone/backend.js';

export interface OpLog {
  op: 'read' | 'write' | 'panicWrite' | 'erase';
  off: number;
  len: number;
  /** Bytes written (write ops only). */
  data?: Buffer;
}

export type Hook = (buf: Buffer, off: number) => number | undefined;

export class FakeBackend implements ZoneBackend {
  readonly mem: Buffer;
  readonly log: OpLog[] = [];
  /** Return a number to override the read's result (the buffer is left as the hook left it). */
  readHook: Hook | undefined;
  /** Return a number to override the write's result (nothing is stored then). */
  writeHook: Hook | undefined;
  erase?: (size: number, off: number) => number;
  panicWrite?: (buf: Buffer, off: number) => number;

  constructor(size: number, fill = 0xff, opts: { erase?: boolean; panicWrite?: boolean } = {}) {
    this.mem = Buffer.alloc(size, fill);
    if (opts.erase) {
      this.erase = (size: number, off: number) => {
        this.log.push({ op: 'erase', off, len: size });
        this.mem.fill(0xff, off, Math.min(off + size, this.mem.length));
        return 0;
      };
    }
    if (opts.panicWrite) {
      this.panicWrite = (buf: Buffer, off: number) => this.doWrite('panicWrite', buf, off);
    }
  }

  get totalSize(): number {
    return this.mem.length;
  }

  read(buf: Buffer, off: number): number {
    this.log.push({ op: 'read', off, len: buf.length });
    const r = this.readHook?.(buf, off);
    if (r !== undefined) return r;
    const n = Math.max(0, Math.min(buf.length, this.mem.length - off));
    this.mem.copy(buf, 0, off, off + n);
    return n;
  }

  write(buf: Buffer, off: number): number {
    return this.doWrite('write', buf, off);
  }

  private doWrite(op: 'write' | 'panicWrite', buf: Buffer, off: number): number {
    this.log.push({ op, off, len: buf.length, data: Buffer.from(buf) });
    const r = this.writeHook?.(buf, off);
    if (r !== undefined) return r;
    const n = Math.max(0, Math.min(buf.length, this.mem.length - off));
    buf.copy(this.mem, off, 0, n);
    return n;
  }

  writes(): OpLog[] {
    return this.log.filter((l) => l.op === 'write' || l.op === 'panicWrite');
  }

  clearLog(): void {
    this.log.length = 0;
  }
}

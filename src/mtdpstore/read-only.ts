/**
 * A side-effect-free zone backend over an MTD device, for reading dumps.
 *
 * The kernel's mtdpstore read path has side effects (its "security" step may
 * erase a block, and it keeps bitmaps); an offline reader must never change
 * its input. This backend keeps only the read semantics that decide what a
 * reader sees: bad blocks and hard read errors make the zone "broken"
 * (-ENOMSG), uncorrectable ECC data is handed over as read, corrected
 * bitflips are invisible. Every write is refused with -EROFS.
 */
import { PowerCut, PstoreError, negErrno } from '../errors.js';
import type { MtdDevice } from '../mtd/device.js';
import type { ZoneBackend } from '../zone/backend.js';

/** What the reader met on the device, per read: for reports. */
export interface ReadEvent {
  offset: number;
  length: number;
  kind: 'bad-block' | 'io-error' | 'ecc-uncorrectable' | 'ecc-corrected';
  detail: string;
}

export class ReadOnlyMtdBackend implements ZoneBackend {
  readonly totalSize: number;
  /** ECC events and failures seen so far. */
  readonly events: ReadEvent[] = [];

  constructor(readonly device: MtdDevice) {
    this.totalSize = device.geometry.size;
  }

  read(buf: Buffer, off: number): number {
    try {
      if (this.device.isBad(off)) {
        this.events.push({ offset: off, length: buf.length, kind: 'bad-block', detail: `block ${Math.floor(off / this.device.geometry.erasesize)} is bad` });
        return negErrno('ENOMSG');
      }
      let done = 0;
      while (done < buf.length) {
        const r = this.device.read(off + done, buf.length - done);
        if (r.status === 'EBADMSG') {
          this.events.push({ offset: off + done, length: r.retlen, kind: 'ecc-uncorrectable', detail: 'uncorrectable ECC error: data used as read' });
        } else if (r.status === 'EUCLEAN') {
          this.events.push({ offset: off + done, length: r.retlen, kind: 'ecc-corrected', detail: `${r.corrected} bitflip(s) corrected` });
        }
        if (r.retlen <= 0) {
          this.events.push({ offset: off + done, length: buf.length - done, kind: 'io-error', detail: 'device returned no data' });
          return negErrno('ENOMSG');
        }
        r.data.copy(buf, done, 0, r.retlen);
        done += r.retlen;
      }
      return done;
    } catch (e) {
      if (e instanceof PowerCut || !(e instanceof PstoreError)) throw e;
      this.events.push({ offset: off, length: buf.length, kind: 'io-error', detail: `${e.code}: ${e.message}` });
      return negErrno('ENOMSG');
    }
  }

  write(): number {
    return negErrno('EROFS');
  }
}

/**
 * A record as pstore/zone hands it to pstore core (one backend read).
 * pstore core (src/pstore) turns these into files.
 */
export interface PstoreRecord {
  /** pstore type id (0 dmesg, 2 console, 3 ftrace, 7 pmsg, ...). */
  type: number;
  /** dmesg: kmsg zone index; other types: 0. */
  id: number;
  /** dmesg: the time stored in the sub-header; ring zones store none. */
  time: { sec: number; nsec: number } | null;
  /** kmsg dump reason (dmesg only; 0 otherwise). */
  reason: number;
  /** Stored counter (dmesg), 0 otherwise. */
  count: number;
  compressed: boolean;
  /**
   * Exactly the bytes pstore/zone returns to pstore core: for an uncompressed
   * dmesg record this includes the "<Reason>: Total <count> times\n" line
   * that pstore/zone prepends; compressed: the stored bytes; ring zones: the
   * chronological stream; ftrace: the merged binary records.
   */
  data: Buffer;
  /** Byte offset of the zone on the device. */
  offset: number;
}

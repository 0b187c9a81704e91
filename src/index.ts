/**
 * mtdpstore — the library. Layers, bottom to top (each knows only those below):
 *
 * - `mtd`: the raw-flash device interface, the flash simulator, image files;
 * - `zone`: pstore/zone's on-flash format for every ABI, layout and
 *   configuration rules, detection, and the zone engine;
 * - `mtdpstore`: the MTD backend policy (kernel-exact and hardened) and replay;
 * - `pstore`: records as files, compression, dump building, mtdoops, archiving;
 * - `api`: one function per user task (open, list, extract, write, create).
 *
 * Errors are PstoreError values carrying kernel errno names (src/errors.ts).
 */
export * from './errors.js';
export * from './mtd/index.js';
export * from './zone/index.js';
export * from './mtdpstore/index.js';
export {
  // pstore core: only what the zone layer does not already export.
  typeName,
  typeFromName,
  reasonFromString,
  dmesgTotalLine,
  PSTORE_TYPE,
  KMSG_REASON,
} from './pstore/names.js';
export * from './pstore/compress/index.js';
export * from './pstore/kmsg-format.js';
export * from './pstore/dump.js';
export * from './pstore/ftrace.js';
export * from './pstore/files.js';
export * from './pstore/mtdoops.js';
export * from './pstore/archive.js';
export { openSource, type Source, type SourceOptions, type BufferReader } from './api/source.js';
export { listImage, listSource, readingLayout, type ListOptions, type ListedFile, type Listing } from './api/read.js';
export { storeDump, removeRecord, removeRecords, bufsizeFor, type Medium, type WriteOptions, type WriteReport, type StoreRequest } from './api/write.js';
export { planImage, createPstoreImage, type Plan, type PlanOptions } from './api/create.js';
export { readSidecar, writeSidecar, sidecarPath, type Sidecar } from './api/sidecar.js';
export { ReadOnlyMtdBackend, type ReadEvent } from './mtdpstore/read-only.js';
export { findRemovedRecords, type RemovedRecord } from './zone/removed.js';

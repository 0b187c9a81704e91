/**
 * pstore core: what the kernel's pstore layer does above pstore/zone —
 * records to files, compression, the dump text, plus a legacy mtdoops
 * importer and a systemd-pstore-style archive.
 */
export type { PstoreRecord } from './record.js';
export * from './names.js';
export * from './compress/index.js';
export * from './kmsg-format.js';
export * from './dump.js';
export * from './ftrace.js';
export * from './files.js';
export * from './mtdoops.js';
export * from './archive.js';

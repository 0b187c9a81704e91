/**
 * The pstore/zone layer: on-flash format codec, zone layout and
 * configuration rules, the zone engine (recovery, listing, writing,
 * removal), and the pstore/blk block backend.
 */
export * from './abi.js';
export * from './struct.js';
export * from './format.js';
export * from './layout.js';
export * from './record.js';
export type { ZoneBackend } from './backend.js';
export * from './engine.js';
export * from './block-backend.js';
export * from './config.js';
export * from './detect.js';

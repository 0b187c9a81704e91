/**
 * mtdpstore: the MTD backend of pstore/blk, in a kernel-exact and a hardened
 * policy (docs/POLICIES.md), with the session that ties it to pstore/zone and
 * the replay runner.
 */
export { MtdPstoreBackend, type MtdPstoreBackendOptions, type MtdPstoreOpCounts, type MtdPstorePolicy } from './backend.js';
export { Bitmap } from './bitmap.js';
export { PSTORE_ZONE_MAX_SIZE, checkGeometry, layoutFacts, type GeometryVerdict, type MtdPstoreLayoutFacts } from './geometry.js';
export { findDevice, forgetTarget, matchDevice, mtdpstoreInit, type MtdPstoreModuleState } from './module.js';
export { MtdPstoreSession, dmesgFileName, type DumpRequest, type MtdPstoreSessionOptions } from './session.js';
export {
  runReplay,
  validateScript,
  type ReplayCounters,
  type ReplayOp,
  type ReplayOptions,
  type ReplayResult,
  type ReplayScript,
  type ReplayStep,
} from './replay.js';

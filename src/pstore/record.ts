/**
 * The hand-over point between pstore/zone (src/zone) and pstore core
 * (src/pstore): one record exactly as the zone layer's read operation returns
 * it. Declared in the zone layer (which produces it); re-exported here for
 * pstore-core users.
 */
export type { PstoreRecord } from '../zone/record.js';

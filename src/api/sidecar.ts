/**
 * The metadata sidecar: `<image>.mtdpstore.json` next to an image, stating
 * what the bytes alone cannot (geometry, bad blocks, ABI, zone size).
 * `create` writes one; every command reads it as defaults that explicit
 * options override.
 */
import * as fs from 'node:fs';
import { PstoreError } from '../errors.js';
import type { MtdType } from '../mtd/device.js';
import type { AbiClass, Endian } from '../zone/abi.js';

export interface Sidecar {
  /** What made the image, e.g. "mtdpstore create". */
  producer?: string;
  medium?: 'mtd' | 'block';
  type?: MtdType;
  size?: number;
  erasesize?: number;
  writesize?: number;
  oobsize?: number;
  /** The image has OOB interleaved after every page. */
  oob?: boolean;
  badBlocks?: number[];
  /** kmsg zone size in bytes. */
  kmsgSize?: number;
  abi?: AbiClass;
  endian?: Endian;
}

export function sidecarPath(image: string): string {
  return `${image}.mtdpstore.json`;
}

/** Read the sidecar of an image, or undefined when there is none. */
export function readSidecar(image: string): Sidecar | undefined {
  const p = sidecarPath(image);
  let text: string;
  try {
    text = fs.readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Sidecar;
  } catch (e) {
    throw new PstoreError('EINVAL', `${p}: not a valid sidecar (${(e as Error).message}): fix or delete it`);
  }
}

export function writeSidecar(image: string, s: Sidecar): void {
  fs.writeFileSync(sidecarPath(image), JSON.stringify(s, null, 2) + '\n');
}

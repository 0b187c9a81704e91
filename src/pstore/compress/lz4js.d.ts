// Minimal typings for the parts of lz4js (plain CommonJS, no bundled types) used here.
declare module 'lz4js' {
  /** Decode one raw LZ4 block src[sIndex, sIndex+sLength) into dst from dIndex; returns the end index. No bounds checks. */
  export function decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
  /** Encode src[sIndex, sIndex+sLength) as one raw LZ4 block into dst; returns its size (0 if incompressible). */
  export function compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
  export function compressBound(n: number): number;
}

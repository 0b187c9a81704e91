/**
 * A binary structure declared once, as data, and used both to decode and to
 * encode. Offsets are not written by hand: they follow from the C layout
 * rules (each member at the next multiple of its alignment, the size rounded
 * up to the largest alignment) applied with the facts of an ABI, which is
 * how one declaration serves every ABI class and byte order.
 */
import { ABI_FACTS, type Abi, type Endian } from './abi.js';

/** C scalar types that occur in pstore/zone's headers. */
export type CType = 'u8' | 'bool' | 'u32' | 's32' | 'enum' | 'time64' | 'long';

/** A C struct declaration: named members, each a scalar or a nested struct. */
export interface StructDecl {
  readonly name: string;
  readonly members: ReadonlyArray<readonly [name: string, type: CType | StructDecl]>;
}

/** One scalar field of a laid-out structure (nested names joined with '.'). */
export interface FieldLayout {
  readonly name: string;
  readonly ctype: CType;
  readonly offset: number;
  readonly size: number;
}

export interface StructLayout {
  readonly name: string;
  /** sizeof: members plus tail padding. */
  readonly size: number;
  readonly align: number;
  /** Offset just after the last member (offsetof a trailing flexible array). */
  readonly end: number;
  readonly fields: readonly FieldLayout[];
}

function scalar(ctype: CType, abi: Abi): { size: number; align: number } {
  const f = ABI_FACTS[abi.cls];
  switch (ctype) {
    case 'u8':
    case 'bool':
      return { size: 1, align: 1 };
    case 'u32':
    case 's32':
    case 'enum':
      return { size: 4, align: f.align32 };
    case 'time64':
      return { size: 8, align: f.align64 };
    case 'long':
      return { size: f.longSize, align: f.longAlign };
  }
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** Lay out a declaration for an ABI with the C rules. */
export function layoutStruct(decl: StructDecl, abi: Abi): StructLayout {
  const fields: FieldLayout[] = [];
  let off = 0;
  let align = 1;
  for (const [name, type] of decl.members) {
    if (typeof type === 'string') {
      const s = scalar(type, abi);
      off = alignUp(off, s.align);
      fields.push({ name, ctype: type, offset: off, size: s.size });
      off += s.size;
      align = Math.max(align, s.align);
    } else {
      const inner = layoutStruct(type, abi);
      off = alignUp(off, inner.align);
      for (const f of inner.fields) fields.push({ ...f, name: `${name}.${f.name}`, offset: off + f.offset });
      off += inner.size;
      align = Math.max(align, inner.align);
    }
  }
  return { name: decl.name, size: alignUp(off, align), align, end: off, fields };
}

/** Field values by (dotted) name. 64-bit values are JS numbers (exact below 2^53). */
export type StructValues = Record<string, number>;

/** Decode a laid-out structure at `off`. The caller guarantees `buf` holds `layout.size` bytes there. */
export function decodeStruct(layout: StructLayout, buf: Uint8Array, off: number, endian: Endian): StructValues {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const le = endian === 'le';
  const out: StructValues = {};
  for (const f of layout.fields) {
    const p = off + f.offset;
    switch (f.ctype) {
      case 'u8':
      case 'bool':
        out[f.name] = dv.getUint8(p);
        break;
      case 'u32':
      case 'enum':
        out[f.name] = dv.getUint32(p, le);
        break;
      case 's32':
        out[f.name] = dv.getInt32(p, le);
        break;
      case 'time64':
      case 'long':
        out[f.name] = f.size === 8 ? Number(dv.getBigInt64(p, le)) : dv.getInt32(p, le);
        break;
    }
  }
  return out;
}

/**
 * Encode `values` into `buf` at `off`. Missing fields are written as 0;
 * padding bytes are left as they are (callers start from zeroed buffers, as
 * the kernel does).
 */
export function encodeStruct(layout: StructLayout, values: Partial<StructValues>, buf: Uint8Array, off: number, endian: Endian): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const le = endian === 'le';
  for (const f of layout.fields) {
    const v = values[f.name] ?? 0;
    const p = off + f.offset;
    switch (f.ctype) {
      case 'u8':
      case 'bool':
        dv.setUint8(p, v & 0xff);
        break;
      case 'u32':
      case 'enum':
        dv.setUint32(p, v >>> 0, le);
        break;
      case 's32':
        dv.setInt32(p, v | 0, le);
        break;
      case 'time64':
      case 'long':
        if (f.size === 8) dv.setBigInt64(p, BigInt(Math.trunc(v)), le);
        else dv.setInt32(p, v | 0, le);
        break;
    }
  }
}

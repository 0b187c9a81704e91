/**
 * C ABI facts needed to lay out pstore/zone's on-flash structures.
 *
 * The headers are C structures copied verbatim to flash, so their layout
 * depends on the writing CPU: byte order, the size of `long`, and the
 * alignment of 32- and 64-bit integers (spec/format.md §1).
 */

export type Endian = 'le' | 'be';

/** ABI classes of spec/format.md §1. */
export type AbiClass = 'lp64' | 'ilp32-a8' | 'ilp32-a4' | 'm68k';

export interface Abi {
  readonly cls: AbiClass;
  readonly endian: Endian;
}

export interface AbiFacts {
  /** sizeof(long). */
  readonly longSize: 4 | 8;
  /** alignof(long). */
  readonly longAlign: number;
  /** alignof of 32-bit integers and enums. */
  readonly align32: number;
  /** alignof of 64-bit integers (time64_t). */
  readonly align64: number;
  /** Architectures that use this class, for messages and docs. */
  readonly examples: string;
}

export const ABI_FACTS: Readonly<Record<AbiClass, AbiFacts>> = {
  lp64: { longSize: 8, longAlign: 8, align32: 4, align64: 8, examples: 'x86_64, arm64, riscv64, ppc64, mips64, s390x' },
  'ilp32-a8': { longSize: 4, longAlign: 4, align32: 4, align64: 8, examples: '32-bit ARM EABI, MIPS o32, PowerPC32, RISC-V 32' },
  'ilp32-a4': { longSize: 4, longAlign: 4, align32: 4, align64: 4, examples: 'i386, ARM OABI' },
  m68k: { longSize: 4, longAlign: 2, align32: 2, align64: 2, examples: 'm68k (derived, not checked on hardware)' },
};

export const ABI_CLASSES: readonly AbiClass[] = ['lp64', 'ilp32-a8', 'ilp32-a4', 'm68k'];

/** The ABI of the fixtures and of most users: x86_64 / arm64. */
export const DEFAULT_ABI: Abi = { cls: 'lp64', endian: 'le' };

/** Every ABI the codec supports, both byte orders. */
export const ALL_ABIS: readonly Abi[] = ABI_CLASSES.flatMap((cls) => [
  { cls, endian: 'le' as const },
  { cls, endian: 'be' as const },
]);

export function abiLabel(abi: Abi): string {
  return `${abi.cls}-${abi.endian}`;
}

/** Parse "lp64", "lp64-be", "i386", "arm", ... into an ABI class (and endian if given). */
export function parseAbi(text: string): { cls: AbiClass; endian?: Endian } | undefined {
  const t = text.trim().toLowerCase();
  const aliases: Record<string, AbiClass> = {
    lp64: 'lp64', x86_64: 'lp64', amd64: 'lp64', arm64: 'lp64', aarch64: 'lp64', s390x: 'lp64', ppc64: 'lp64', riscv64: 'lp64',
    'ilp32-a8': 'ilp32-a8', arm: 'ilp32-a8', armeabi: 'ilp32-a8', mips: 'ilp32-a8', ppc: 'ilp32-a8', powerpc: 'ilp32-a8', ilp32: 'ilp32-a8',
    'ilp32-a4': 'ilp32-a4', i386: 'ilp32-a4', x86: 'ilp32-a4', i686: 'ilp32-a4', oabi: 'ilp32-a4',
    m68k: 'm68k',
  };
  const m = /^(.*?)(?:-(le|be))?$/.exec(t);
  if (!m) return undefined;
  const cls = aliases[m[1]!];
  if (!cls) return undefined;
  return m[2] ? { cls, endian: m[2] as Endian } : { cls };
}

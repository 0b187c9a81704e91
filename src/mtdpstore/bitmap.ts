/**
 * A fixed-size bit set with the kernel's allocation granularity.
 *
 * mtdpstore sizes its bitmaps as BITS_TO_LONGS(n) longs, so bits between n
 * and the next multiple of 64 exist and can be set or tested without harm.
 * Some of its loops (W11: zones straddling blocks) touch such bits; keeping
 * the padding lets those loops run unchanged instead of needing range checks
 * the kernel does not have.
 */
export class Bitmap {
  /** Bits the kernel asked for (floor(S ÷ Z) or floor(S ÷ E)). */
  readonly bits: number;
  private readonly words: Uint8Array;

  constructor(bits: number) {
    this.bits = bits;
    // Round up to whole 64-bit longs, as kcalloc(BITS_TO_LONGS(bits), sizeof(long)) does.
    const longs = Math.ceil(bits / 64);
    this.words = new Uint8Array(longs * 64);
  }

  /** Allocated bits (a multiple of 64). */
  get capacity(): number {
    return this.words.length;
  }

  test(i: number): boolean {
    return i >= 0 && i < this.words.length && this.words[i] === 1;
  }

  set(i: number): void {
    if (i >= 0 && i < this.words.length) this.words[i] = 1;
  }

  clear(i: number): void {
    if (i >= 0 && i < this.words.length) this.words[i] = 0;
  }

  clearAll(): void {
    this.words.fill(0);
  }

  /** Indices of set bits below `bits`, for inspection and tests. */
  list(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.bits; i++) if (this.words[i] === 1) out.push(i);
    return out;
  }
}

/**
 * A tiny seeded pseudo-random generator (mulberry32).
 *
 * The simulator draws every random decision (fault injection, torn-operation
 * shapes) from one of these, so a run is a pure function of its seed and the
 * calls made. The whole state is one 32-bit integer, which makes snapshots
 * trivial. Not for cryptography.
 */
export class SeededRandom {
  private s: number;

  constructor(seed = 1) {
    this.s = seed >>> 0;
  }

  /** The internal state, to be saved in a snapshot. */
  get state(): number {
    return this.s;
  }

  set state(v: number) {
    this.s = v >>> 0;
  }

  /** Next unsigned 32-bit value. */
  nextU32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n) (n ≥ 1). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** True with probability p. Draws nothing when p ≤ 0, so a zero rate never perturbs the sequence. */
  chance(p: number): boolean {
    if (p <= 0) return false;
    return this.float() < p;
  }
}

/**
 * Seeded pseudo-random numbers for reproducible training (row subsampling) and synthetic data.
 * Math.random cannot be seeded, and a test or benchmark that cannot be replayed proves nothing.
 */

/** A uniform generator on [0, 1) plus a standard normal one, both driven by the same seed. */
export interface Random {
  /** Uniform on [0, 1), 32 bits of resolution. */
  uniform(): number;
  /** Standard normal N(0, 1), Box–Muller. */
  gaussian(): number;
}

/**
 * A mulberry32 generator (period 2³², ample for test data) with Box–Muller normals. The second
 * Box–Muller value is kept for the next call, so normals cost one logarithm per pair.
 *
 * @param seed any integer; the same seed gives the same sequence on every platform.
 */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  let spare: number | undefined;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const gaussian = (): number => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    // 1 − u lies in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
  return { uniform, gaussian };
}

/** Seeded pseudo-random numbers, for anything that must replay the same way: training, synthetic data, sample markets. */
export { createRandom, type Random } from './seeded.js';

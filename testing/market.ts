/**
 * The market data tests feed the mesh: the ohlcv_v1 feature set the feature service serves (its
 * width, warm-up and the values it computes), and seeded random-walk histories of daily bars.
 */
export { DEFAULT_FEATURE_SET, type DailyBar } from '../services/feature/feature-sets/index.js';
export { randomWalkBars } from '../services/feature/feature-sets/testing.js';

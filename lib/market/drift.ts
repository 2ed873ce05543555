/**
 * How the mesh reads a population stability index (PSI) of live feature values against training:
 * the defaults of monitoring's feature_drift rule, and what the CLI and the demo measure the
 * figures they print against, so both say the same about the same numbers.
 */

/** Defaults of feature drift. */
export const DRIFT_DEFAULTS = {
  /** A PSI above this reads as a significant shift (the rule fires). */
  maxPsi: 0.2,
  /** Sessions of live vectors compared, days. */
  windowDays: 20,
  /**
   * Live vectors needed before a PSI is trusted. Sampling noise alone gives an index of about
   * (bins − 1) / vectors — 0.18 for 10 bins and 50 vectors, as much as the bound — so 500 (about
   * 0.02): a month of a 30-symbol universe.
   */
  minSamples: 500,
  /**
   * Features left out: the calendar ones. A few weeks of live vectors always cover a few months
   * and weekdays out of the year that training saw, so their index is large by design.
   */
  ignoredFeatures: ['day_of_week_sin', 'day_of_week_cos', 'month_of_year_sin', 'month_of_year_cos'] as readonly string[],
} as const;

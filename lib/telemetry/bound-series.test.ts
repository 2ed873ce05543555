import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { boundCounter, boundHistogram } from './bound-series.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const VALUES = [0.0005, 0.001, 0.002, 0.05, 0.1, 0.7, 3, 12, 0];

/** A counter and a histogram by model and outcome, in a registry of their own. */
function metricsIn(registry: Registry) {
  return {
    counter: new Counter({ name: 'calls_total', help: 'calls', labelNames: ['model', 'degraded'], registers: [registry] }),
    histogram: new Histogram({ name: 'call_seconds', help: 'seconds', labelNames: ['model'], buckets: BUCKETS, registers: [registry] }),
  };
}

describe('bound series', () => {
  it('scrape exactly as prom-client label children do, also after a reset', async () => {
    const plain = new Registry();
    const bound = new Registry();
    const a = metricsIn(plain);
    const b = metricsIn(bound);
    const children = {
      live: a.counter.labels({ model: 'ridge', degraded: 'false' }),
      degraded: a.counter.labels({ model: 'ridge', degraded: 'true' }),
      seconds: a.histogram.labels({ model: 'ridge' }),
      other: a.histogram.labels({ model: 'gbm' }),
    };
    const series = {
      live: boundCounter(b.counter, { model: 'ridge', degraded: 'false' }),
      degraded: boundCounter(b.counter, { model: 'ridge', degraded: 'true' }),
      seconds: boundHistogram(b.histogram, { model: 'ridge' }),
      other: boundHistogram(b.histogram, { model: 'gbm' }),
    };
    const play = (round: number) => {
      for (let i = 0; i < 5 + round; i++) {
        children.live.inc();
        series.live.inc();
      }
      children.degraded.inc();
      series.degraded.inc();
      for (const value of VALUES) {
        children.seconds.observe(value * (round + 1));
        series.seconds.observe(value * (round + 1));
      }
      children.other.observe(0.02);
      series.other.observe(0.02);
    };
    play(0);
    play(1);
    assert.equal(await bound.metrics(), await plain.metrics());
    assert.match(await bound.metrics(), /calls_total\{model="ridge",degraded="false"\} 11/);
    assert.match(await bound.metrics(), /call_seconds_bucket\{le="0.01",model="ridge"\} 8/);
    plain.resetMetrics();
    bound.resetMetrics();
    play(2);
    assert.equal(await bound.metrics(), await plain.metrics());
    assert.match(await bound.metrics(), /calls_total\{model="ridge",degraded="false"\} 7/);
  });

  it('refuses what prom-client refuses', () => {
    const { histogram } = metricsIn(new Registry());
    const series = boundHistogram(histogram, { model: 'ridge' });
    series.observe(1);
    assert.throws(() => series.observe(Number.NaN), TypeError);
  });
});

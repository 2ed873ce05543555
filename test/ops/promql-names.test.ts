import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metricNamesOf } from './promql-names.js';

describe('metricNamesOf', () => {
  it('finds metric names and skips functions, aggregations, keywords, label names, strings, ranges and variables', () => {
    assert.deepEqual(
      metricNamesOf(
        'histogram_quantile(0.99, sum by (service, le) (rate(grpc_server_handling_seconds_bucket{grpc_type="unary", x=~"a|b"}[5m]))) > 0.5',
      ),
      ['grpc_server_handling_seconds_bucket'],
    );
    assert.deepEqual(
      metricNamesOf(
        'sum by (service) (rate(a_total{code=~"INTERNAL"}[$__rate_interval])) / on (service) group_left (model) sum without (instance) (b_total offset 5m) and bool c',
      ),
      ['a_total', 'b_total', 'c'],
    );
    assert.deepEqual(metricNamesOf('max by (model, version) (x) > max by (model, version) (y)'), ['x', 'y']);
    assert.deepEqual(metricNamesOf('sum(rate(x[5m])) by (service) unless on(service, durable) y > 0'), ['x', 'y']);
    assert.deepEqual(metricNamesOf('up{job="nepse-mesh"} == 0'), ['up']);
    assert.deepEqual(metricNamesOf('label_values(process_cpu_seconds_total, service)'), ['process_cpu_seconds_total']);
    assert.deepEqual(metricNamesOf('x{a="sum(y)"} * 1e3 + Inf'), ['x']);
  });
});

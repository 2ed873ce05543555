import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { StreamPredictionsResponseSchema } from '../gen/nepse/prediction/v1/prediction_pb.js';
import { topLevelFields } from '../bench/raw-client.js';

describe('bench raw client: topLevelFields', () => {
  it('tells a prediction answer from an error answer without decoding', () => {
    const encode = (init: Parameters<typeof create<typeof StreamPredictionsResponseSchema>>[1]) =>
      toBinary(StreamPredictionsResponseSchema, create(StreamPredictionsResponseSchema, init));
    const prediction = encode({
      requestId: 'r-1',
      outcome: {
        case: 'prediction',
        value: { symbol: 'NABIL', predictedReturn: 0.01, modelVersion: 3, degraded: true, predictedAt: { seconds: 1n, nanos: 5 } },
      },
    });
    const error = encode({ requestId: 'x'.repeat(200), outcome: { case: 'error', value: { code: 5, message: 'no such symbol' } } });
    const results = encode({ requestId: 'r-2', results: [{ symbol: 'NABIL' }, { symbol: 'NICA' }] });
    assert.deepEqual(topLevelFields(prediction), [1, 2]);
    assert.deepEqual(topLevelFields(error), [1, 3], 'a request id longer than 127 bytes has a two-byte length');
    assert.deepEqual(topLevelFields(results), [1, 4, 4]);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { DegradedReason, PredictionSchema, PredictResponseSchema } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { encodePredictResponse } from './prediction-wire.js';

const responses = [
  create(PredictResponseSchema, {
    prediction: {
      predictionId: '7d1c5a52-4a1e-4f0b-9a51-0c4f2f0c9e11',
      symbol: 'NABIL',
      featureDate: { year: 2025, month: 3, day: 4 },
      predictedReturn: -0.0123,
      predictedClose: 512.25,
      baseClose: 518.6,
      modelName: 'nepse-ridge',
      modelVersion: 300,
      predictedAt: timestampFromMs(1_741_000_000_123),
      defaultModelUsed: true,
    },
  }),
  // Degraded with a long detail (a two-byte length), an alias, a version past one varint byte.
  create(PredictResponseSchema, {
    prediction: {
      predictionId: 'b',
      symbol: 'NICA',
      featureDate: { year: 2025, month: 1, day: 1 },
      predictedReturn: 1e-300,
      predictedClose: 123456.789,
      baseClose: 0,
      modelName: 'm',
      modelVersion: 1_000_000,
      degraded: true,
      degradedReason: DegradedReason.CIRCUIT_OPEN,
      degradedDetail: `the circuit breaker is open — ${'x'.repeat(300)}`,
      predictedAt: timestampFromMs(1_741_000_000_000),
      modelAlias: 'challenger',
    },
  }),
  // Short strings that are not all ASCII (the byte-per-character path gives up on them midway).
  create(PredictResponseSchema, {
    prediction: { predictionId: 'ab€', symbol: 'NABIL', degradedDetail: 'feature service: naïve retry', modelVersion: 3 },
  }),
  // Defaults everywhere: no date, no timestamp, nothing but zeros.
  create(PredictResponseSchema, { prediction: create(PredictionSchema, {}) }),
  // No prediction at all.
  create(PredictResponseSchema, {}),
];

describe('PredictResponse writer', () => {
  it('writes the bytes toBinary writes, which decode to the same message', () => {
    for (const response of responses) {
      const bytes = encodePredictResponse(response);
      assert.deepEqual(Buffer.from(bytes), Buffer.from(toBinary(PredictResponseSchema, response)));
      assert.deepEqual(fromBinary(PredictResponseSchema, bytes), response);
    }
  });

  it('writes a negative int32 (version, date) sign-extended to ten bytes, as toBinary does', () => {
    const odd = create(PredictResponseSchema, {
      prediction: { symbol: 'NABIL', modelVersion: -1, featureDate: { year: -5, month: 1, day: 2 } },
    });
    assert.deepEqual(Buffer.from(encodePredictResponse(odd)), Buffer.from(toBinary(PredictResponseSchema, odd)));
  });

  it('grows its buffer for an answer past the usual size', () => {
    const long = create(PredictResponseSchema, { prediction: { symbol: 'NABIL', degradedDetail: 'é'.repeat(5_000), modelVersion: 2 } });
    assert.deepEqual(Buffer.from(encodePredictResponse(long)), Buffer.from(toBinary(PredictResponseSchema, long)));
  });
});

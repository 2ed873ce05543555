import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { PredictionsMadeSchema } from '../../gen/nepse/events/v1/events_pb.js';
import { DegradedReason, PredictionSchema } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { encodePredictionsMade, type MadeEntry } from './predictions-made-wire.js';

const entries: MadeEntry[] = [
  {
    prediction: create(PredictionSchema, {
      predictionId: '7d1c5a52-4a1e-4f0b-9a51-0c4f2f0c9e11',
      symbol: 'NABIL',
      featureDate: { year: 2025, month: 3, day: 4 },
      predictedReturn: -0.0123,
      predictedClose: 512.25,
      baseClose: 518.6,
      modelName: 'nepse-ridge',
      modelVersion: 300,
      predictedAt: timestampFromMs(1_741_000_000_123),
    }),
    latencyMs: 0.42,
    features: [0.5, -1.25, 0, 1e-300, 123456.789],
  },
  {
    // Defaults everywhere, degraded, no timestamp, no features.
    prediction: create(PredictionSchema, {
      predictionId: 'b',
      symbol: 'NICA',
      modelName: 'm',
      modelVersion: 1,
      degraded: true,
      degradedReason: DegradedReason.CIRCUIT_OPEN,
      featureDate: { year: 2025, month: 1, day: 1 },
    }),
    latencyMs: 0,
    features: [],
  },
  {
    // A shadow (challenger) prediction.
    prediction: create(PredictionSchema, {
      predictionId: 'c',
      symbol: 'SCB',
      modelName: 'm',
      modelVersion: 2,
      predictedReturn: 0.001,
      baseClose: 100,
      featureDate: { year: 2025, month: 1, day: 2 },
    }),
    latencyMs: 0,
    features: [1, 2],
    shadow: true,
  },
];

describe('PredictionsMade on the wire', () => {
  it('decodes to what the generated encoder writes, byte for byte', () => {
    const now = 1_741_000_555_250;
    const bytes = encodePredictionsMade(entries, 'pod-7', now);
    const expected = create(PredictionsMadeSchema, {
      predictions: entries.map(({ prediction: p, latencyMs, features, shadow }) => ({
        predictionId: p.predictionId,
        modelName: p.modelName,
        modelVersion: p.modelVersion,
        symbol: p.symbol,
        featureDate: p.featureDate,
        predictedReturn: p.predictedReturn,
        predictedClose: p.predictedClose,
        baseClose: p.baseClose,
        latencyMs,
        degraded: p.degraded,
        instanceId: 'pod-7',
        occurredAt: p.predictedAt ?? timestampFromMs(now),
        features: [...features],
        shadow: shadow ?? false,
      })),
    });
    assert.deepEqual(fromBinary(PredictionsMadeSchema, bytes), expected);
    assert.deepEqual(Buffer.from(bytes), Buffer.from(toBinary(PredictionsMadeSchema, expected)));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { IngestBarsRequestSchema } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { decodeIngestBarsRequest } from './bars-request-decoder.js';

const request = (bars: object[], source = 'test') =>
  toBinary(IngestBarsRequestSchema, create(IngestBarsRequestSchema, { bars: bars as never, source }));

describe('decodeIngestBarsRequest', () => {
  it('gives the message protobuf-es gives, field for field', () => {
    const cases = [
      [],
      [
        {
          symbol: 'NABIL',
          date: { year: 2024, month: 6, day: 2 },
          open: 500.5,
          high: 510,
          low: 495.25,
          close: 505,
          volume: 12_345,
          turnover: 6.2e6,
          trades: 321n,
        },
      ],
      [{ symbol: 'NICA', date: { year: 2024, month: 1, day: 31 }, open: 1e-9, high: 1e15, low: 1e-9, close: 0.1 + 0.2, volume: 0 }],
      [{ symbol: '', open: 1, high: 1, low: 1, close: 1, volume: 1 }],
      [
        {
          symbol: 'X',
          date: {},
          open: 0,
          high: -0,
          low: Number.NaN,
          close: Number.POSITIVE_INFINITY,
          volume: 2 ** 60,
          trades: 2n ** 40n,
          turnover: 0,
        },
      ],
      Array.from({ length: 500 }, (_, i) => ({
        symbol: `SYM${i % 7}`,
        date: { year: 2000 + (i % 30), month: 1 + (i % 12), day: 1 + (i % 28) },
        open: i,
        high: i * 2,
        low: i / 3,
        close: Math.PI * i,
        volume: i * 1000,
        trades: BigInt(i),
      })),
    ];
    for (const bars of cases) {
      const bytes = request(bars, bars.length ? 'csv:file.csv' : '');
      assert.deepStrictEqual(decodeIngestBarsRequest(bytes), fromBinary(IngestBarsRequestSchema, bytes));
    }
  });

  it('leaves other shapes to protobuf-es: negative numbers, non-ASCII text, unknown fields', () => {
    const unusual = [
      request([{ symbol: 'NEG', date: { year: -5, month: 1, day: 1 }, open: 1, high: 1, low: 1, close: 1, volume: 1, trades: -3n }]),
      request([{ symbol: 'ÅB', open: 1, high: 1, low: 1, close: 1, volume: 1 }], 'café'),
      Uint8Array.from([...request([{ symbol: 'A', open: 1, high: 1, low: 1, close: 1, volume: 1 }]), 0x18, 0x01]),
    ];
    for (const bytes of unusual) assert.deepStrictEqual(decodeIngestBarsRequest(bytes), fromBinary(IngestBarsRequestSchema, bytes));
  });

  it('refuses malformed bytes as protobuf-es does', () => {
    const bytes = request([{ symbol: 'NABIL', open: 1, high: 1, low: 1, close: 1, volume: 1 }]);
    for (const broken of [bytes.subarray(0, bytes.length - 3), Uint8Array.from([0x0a, 0x7f, 0x01])]) {
      assert.throws(() => fromBinary(IngestBarsRequestSchema, broken));
      assert.throws(() => decodeIngestBarsRequest(broken));
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { PredictRequestSchema } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { decodePredictRequest } from './predict-request-decoder.js';

const encode = (init: MessageInitShape<typeof PredictRequestSchema>) => toBinary(PredictRequestSchema, create(PredictRequestSchema, init));
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

describe('PredictRequest decoder', () => {
  it('gives what fromBinary gives, for the plain shapes and the ones it leaves to fromBinary', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['empty', encode({})],
      ['symbol', encode({ symbol: 'NABIL' })],
      [
        'every field',
        encode({
          symbol: 'NABIL',
          asOf: { year: 2024, month: 3, day: 17 },
          modelName: 'ridge-v2',
          modelVersion: 7,
          modelAlias: 'challenger',
        }),
      ],
      ['a date of zeros', encode({ symbol: 'NICA', asOf: {} })],
      ['a large version', encode({ symbol: 'NICA', modelVersion: 2 ** 31 - 1 })],
      ['a negative version', encode({ symbol: 'NICA', modelVersion: -3 })],
      ['a symbol that is not ASCII', encode({ symbol: 'नबिल' })],
      ['a field given twice', concat(encode({ symbol: 'NABIL' }), encode({ symbol: 'NICA' }))],
      ['a date given twice', concat(encode({ asOf: { year: 2024 } }), encode({ asOf: { month: 2 } }))],
      ['an unknown field', concat(encode({ symbol: 'NABIL' }), Uint8Array.of(0x30, 0x01))],
      ['fields out of order', concat(encode({ modelName: 'ridge' }), encode({ symbol: 'NABIL' }))],
    ];
    for (const [name, bytes] of cases) {
      assert.deepEqual(decodePredictRequest(bytes), fromBinary(PredictRequestSchema, bytes), name);
    }
  });

  it('refuses malformed bytes as fromBinary does', () => {
    const whole = encode({ symbol: 'NABIL', modelName: 'ridge' });
    for (const bytes of [whole.subarray(0, 4), Uint8Array.of(0x0a, 0x80), Uint8Array.of(0x0a, 0x05, 0x41)]) {
      assert.throws(() => fromBinary(PredictRequestSchema, bytes));
      assert.throws(() => decodePredictRequest(bytes));
    }
  });
});

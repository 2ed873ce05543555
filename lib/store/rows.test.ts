import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreError } from './errors.js';
import { CHUNK_ROWS, encodeRows, parseJsonEachRow, type EncodedRows } from './rows.js';

const text = (encoded: EncodedRows): string => Buffer.concat(encoded.chunks).toString();

describe('encodeRows', () => {
  it('sends uniform rows as JSONCompactEachRow with the column list once', () => {
    const encoded = encodeRows([
      { symbol: 'NABIL', date: '2024-01-02', close: 1.5 },
      { symbol: 'NICA', date: '2024-01-03', close: 2 },
    ]);
    assert.equal(encoded.format, 'JSONCompactEachRow');
    assert.deepEqual(encoded.columns, ['symbol', 'date', 'close']);
    assert.equal(encoded.rows, 2);
    assert.equal(text(encoded), '["NABIL","2024-01-02",1.5]\n["NICA","2024-01-03",2]\n');
  });

  it('falls back to JSONEachRow when a row omits or adds a key, so DEFAULTs and unknown keys behave', () => {
    const omitted = encodeRows([{ a: 1, b: 2 }, { a: 3 }]);
    assert.equal(omitted.format, 'JSONEachRow');
    assert.equal(omitted.columns, undefined);
    assert.equal(text(omitted), '{"a":1,"b":2}\n{"a":3}\n');
    assert.equal(encodeRows([{ a: 1 }, { a: 2, b: 3 }]).format, 'JSONEachRow');
    assert.equal(encodeRows([{ a: 1, b: undefined }]).format, 'JSONEachRow');
  });

  it('writes bigint as exact quoted digits and Date as an ISO instant', () => {
    const encoded = encodeRows([{ v: 18446744073709551615n, t: new Date('2024-01-02T03:04:05.678Z') }]);
    assert.equal(text(encoded), '["18446744073709551615","2024-01-02T03:04:05.678Z"]\n');
  });

  it('splits big batches into pieces of whole rows', () => {
    const rows = Array.from({ length: CHUNK_ROWS * 2 + 1 }, (_, i) => ({ i }));
    for (const encoded of [encodeRows(rows), encodeRows([{ i: -1, extra: 0 }, ...rows])]) {
      assert.equal(encoded.chunks.length, 3);
      for (const chunk of encoded.chunks) assert.equal(chunk.at(-1), 0x0a);
      assert.equal(text(encoded).split('\n').length - 1, encoded.rows);
    }
  });

  it('refuses a column name outside the identifier whitelist', () => {
    assert.throws(() => encodeRows([{ 'a b': 1 }]), StoreError);
    assert.throws(() => encodeRows([{ 'x) SELECT 1 --': 1 }]), StoreError);
  });
});

describe('parseJsonEachRow', () => {
  it('parses rows, including strings holding escaped newlines', () => {
    assert.deepEqual(parseJsonEachRow('{"a":1,"s":"x\\ny"}\n{"a":2,"s":""}\n'), [
      { a: 1, s: 'x\ny' },
      { a: 2, s: '' },
    ]);
  });

  it('gives no rows for empty output', () => {
    assert.deepEqual(parseJsonEachRow(''), []);
    assert.deepEqual(parseJsonEachRow('\n'), []);
  });
});

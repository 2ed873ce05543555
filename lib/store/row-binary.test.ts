import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RowBinaryWriter } from './row-binary.js';

describe('RowBinaryWriter', () => {
  it('writes ClickHouse RowBinary: varint lengths, little-endian numbers, days since 1970, microseconds', () => {
    const rows = new RowBinaryWriter();
    rows.string('é').uint32(258).date('1970-01-03').float64(1).nullableFloat64(null).nullableFloat64(2);
    rows.float64Array([-0]).dateTime64Micros(new Date(1)).nullableUint32(undefined).nullableUint32(513).endRow();
    const { format, columns, chunks, rows: count } = rows.encoded(['a']);
    assert.deepEqual([format, columns, count], ['RowBinary', ['a'], 1]);
    const expected = Buffer.concat([
      Buffer.from([2, 0xc3, 0xa9]),
      Buffer.from([2, 1, 0, 0]),
      Buffer.from([2, 0]),
      Buffer.from(new Float64Array([1]).buffer),
      Buffer.from([1]),
      Buffer.from([0]),
      Buffer.from(new Float64Array([2]).buffer),
      Buffer.from([1]),
      Buffer.alloc(8),
      Buffer.from([0xe8, 3, 0, 0, 0, 0, 0, 0]),
      Buffer.from([1]),
      Buffer.from([0, 1, 2, 0, 0]),
    ]);
    assert.deepEqual(Buffer.concat(chunks), expected);
  });

  it('keeps every row whole inside one piece, however many pieces a payload takes', () => {
    const rows = new RowBinaryWriter();
    const values = Array.from({ length: 25 }, (_, i) => i / 7);
    for (let i = 0; i < 40_000; i++) rows.string(`S${i}`).float64Array(values).endRow();
    const { chunks } = rows.encoded(['s', 'v']);
    assert.ok(chunks.length > 1, 'the payload spans several pieces');
    for (const chunk of chunks) {
      // Each piece parses as whole rows: a string, then 25 doubles.
      let offset = 0;
      while (offset < chunk.length) {
        const length = chunk[offset]!;
        offset += 1 + length;
        assert.equal(chunk[offset], 25);
        offset += 1 + 25 * 8;
      }
      assert.equal(offset, chunk.length);
    }
    // Per row: length byte, 'S' and the digits, count byte, 25 doubles.
    const digits = 10 * 1 + 90 * 2 + 900 * 3 + 9000 * 4 + 30_000 * 5;
    assert.equal(
      chunks.reduce((n, c) => n + c.length, 0),
      40_000 * (1 + 1 + 1 + 200) + digits,
    );
  });

  it('refuses a day that does not exist or that Date cannot hold, and an unfinished row', () => {
    for (const day of ['2023-02-29', '2024-13-01', '2024-1-01', '1969-12-31', '2150-01-01', 'not a day']) {
      assert.throws(() => new RowBinaryWriter().date(day), RangeError, day);
    }
    const rows = new RowBinaryWriter();
    rows.string('x');
    assert.throws(() => rows.encoded(['s']), /not ended/);
  });
});

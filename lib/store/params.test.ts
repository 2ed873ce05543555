import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeParams, placeholderTypes } from './params.js';

describe('placeholderTypes', () => {
  it('reads names and types, including parameterised types', () => {
    const types = placeholderTypes(
      "SELECT {a:String}, { b : Array(Date) }, {c:DateTime64(3, 'UTC')}, {d:Map(String, UInt64)} FROM t WHERE x = {a:String}",
    );
    assert.deepEqual(
      [...types],
      [
        ['a', 'String'],
        ['b', 'Array(Date)'],
        ['c', "DateTime64(3, 'UTC')"],
        ['d', 'Map(String, UInt64)'],
      ],
    );
  });
});

describe('normalizeParams', () => {
  const instant = new Date('2024-01-02T03:04:05.678Z');

  it('formats a JS Date for its placeholder type, in UTC', () => {
    const sql = 'SELECT {d:Date}, {d32:Nullable(Date32)}, {t:DateTime}, {t64:DateTime64(3)}, {s:String}, {days:Array(Date)}';
    assert.deepEqual(normalizeParams(sql, { d: instant, d32: instant, t: instant, t64: instant, s: instant, days: [instant] }), {
      d: '2024-01-02',
      d32: '2024-01-02',
      t: '2024-01-02 03:04:05',
      t64: '2024-01-02 03:04:05.678',
      s: '2024-01-02 03:04:05.678',
      days: ['2024-01-02'],
    });
  });

  it('sends non-finite floats as text both drivers bind, and passes the rest through', () => {
    assert.deepEqual(normalizeParams('SELECT {a:Float64}, {b:Float64}, {c:Float64}', { a: NaN, b: Infinity, c: -Infinity }), {
      a: 'nan',
      b: 'inf',
      c: '-inf',
    });
    const passthrough = { s: "it's", n: 1.5, big: 2n ** 64n - 1n, ok: true, none: null, list: ['a', 'b'] };
    assert.deepEqual(normalizeParams('SELECT 1', passthrough), passthrough);
  });

  it('treats no params as none', () => {
    assert.equal(normalizeParams('SELECT 1', undefined), undefined);
    assert.equal(normalizeParams('SELECT 1', {}), undefined);
  });

  it('refuses an invalid Date', () => {
    assert.throws(() => normalizeParams('SELECT {d:Date}', { d: new Date('nope') }), /invalid Date/);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statusDetails, InvalidArgumentError } from '../grpc/index.js';
import {
  decodePageToken,
  encodePageToken,
  fromProtoDate,
  isoDate,
  pageSize,
  rangeBounds,
  requireSymbol,
  toProtoDate,
  todayInNepal,
} from './index.js';

const fieldOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidArgumentError);
    return error.violations[0].field;
  }
  assert.fail('expected INVALID_ARGUMENT');
};

describe('trading days', () => {
  it('knows leap years and month lengths', () => {
    assert.equal(isoDate(2024, 2, 29), '2024-02-29');
    assert.equal(isoDate(2023, 2, 29), undefined);
    assert.equal(isoDate(1900, 2, 29), undefined);
    assert.equal(isoDate(2000, 2, 29), '2000-02-29');
    assert.equal(isoDate(2024, 4, 31), undefined);
    assert.equal(isoDate(2024, 13, 1), undefined);
    assert.equal(isoDate(2024, 1.5, 1), undefined);
  });

  it('converts to and from the proto Date', () => {
    assert.equal(fromProtoDate(toProtoDate('2024-03-09'), 'date'), '2024-03-09');
    assert.equal(
      fieldOf(() => fromProtoDate(toProtoDate('2024-02-30'), 'as_of')),
      'as_of',
    );
  });

  it('reads ranges, open at either end, and refuses an end before the start', () => {
    assert.deepEqual(rangeBounds(undefined, 'range'), { from: '1970-01-01', to: '2149-06-06' });
    assert.deepEqual(rangeBounds({ $typeName: 'nepse.market.v1.DateRange', start: toProtoDate('2024-01-01') }, 'range').from, '2024-01-01');
    assert.equal(
      fieldOf(() =>
        rangeBounds({ $typeName: 'nepse.market.v1.DateRange', start: toProtoDate('2024-02-01'), end: toProtoDate('2024-01-01') }, 'range'),
      ),
      'range.end',
    );
  });

  it("takes today's date in Nepal, 5 h 45 min ahead of UTC", () => {
    assert.equal(todayInNepal(Date.parse('2024-01-01T18:14:00Z')), '2024-01-01');
    assert.equal(todayInNepal(Date.parse('2024-01-01T18:16:00Z')), '2024-01-02');
  });
});

describe('symbols and paging', () => {
  it('normalises and validates symbols, naming the field', () => {
    assert.equal(requireSymbol('  nabil '), 'NABIL');
    assert.equal(requireSymbol('NICAD8283'), 'NICAD8283');
    assert.equal(
      fieldOf(() => requireSymbol('NA BIL', 'symbols[2]')),
      'symbols[2]',
    );
    assert.equal(
      fieldOf(() => requireSymbol('')),
      'symbol',
    );
    assert.equal(
      fieldOf(() => requireSymbol('A.B')),
      'symbol',
    );
  });

  it('caps page sizes and round-trips page tokens', () => {
    assert.equal(pageSize(0), 100);
    assert.equal(pageSize(5000), 1000);
    assert.equal(
      fieldOf(() => pageSize(-1)),
      'page_size',
    );
    assert.equal(decodePageToken(encodePageToken('NABIL')), 'NABIL');
    assert.equal(decodePageToken(''), '');
    assert.equal(
      fieldOf(() => decodePageToken('not-a-token')),
      'page_token',
    );
    assert.equal(statusDetails(new Error('x')), undefined);
  });
});

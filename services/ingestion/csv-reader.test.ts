import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CsvReader, MalformedCsvError, parseNumber, splitCsvLine } from './csv-reader.js';
import { parseTradingDate } from './trading-date.js';

const read = (text: string, defaults = {}) => {
  const reader = new CsvReader(defaults);
  const bytes = new TextEncoder().encode(text);
  // Feed in awkward pieces so lines and characters straddle chunk boundaries.
  for (let i = 0; i < bytes.length; i += 7) reader.push(bytes.subarray(i, i + 7));
  return reader.finish();
};

describe('CSV layouts', () => {
  it('reads the plain Symbol,Date,Open,High,Low,Close,Volume layout', () => {
    const result = read('Symbol,Date,Open,High,Low,Close,Volume\nNABIL,2024-01-02,500,510,495,505,1000\n');
    assert.deepEqual(result.bars, [
      {
        symbol: 'NABIL',
        date: '2024-01-02',
        open: 500,
        high: 510,
        low: 495,
        close: 505,
        volume: 1000,
        turnover: undefined,
        trades: undefined,
      },
    ]);
  });

  it('reads NEPSE export headers regardless of case, spacing and punctuation', () => {
    const csv = [
      'S.N.,SYMBOL,Business Date,Open Price,High Price,Low Price,Close Price,Total Traded Quantity,Total Traded Amount,Total Trades',
      '1,nica,2024/01/02,"1,000.00","1,020.50",990,"1,010.00","12,345","12,468,450.00",321',
    ].join('\r\n');
    const [bar] = read(csv).bars;
    assert.deepEqual(bar, {
      symbol: 'NICA',
      date: '2024-01-02',
      open: 1000,
      high: 1020.5,
      low: 990,
      close: 1010,
      volume: 12345,
      turnover: 12468450,
      trades: 321,
    });
  });

  it('takes LTP as the close and Qty/Turnover/Trans. from portal history pages, with the symbol given by the import', () => {
    const csv = 'S.No,Date,Open,High,Low,Ltp,% Change,Qty,Turnover,Trans.\n1,2024-01-03,300,310,295,305,1.2,500,152500,20\n';
    const result = read(csv, { symbol: 'UPPER' });
    assert.equal(result.bars[0].symbol, 'UPPER');
    assert.equal(result.bars[0].close, 305);
    assert.equal(result.bars[0].trades, 20);
  });

  it('uses the trading date given by the import for one-day price lists', () => {
    const csv = "Today's Price,,,,\nSymbol,Open,High,Low,Close,Vol\nNABIL,500,510,495,505,1000\n";
    assert.equal(read(csv, { date: '2024-01-04' }).bars[0].date, '2024-01-04');
  });

  it('accepts semicolon and tab separated files', () => {
    assert.equal(read('Symbol;Date;Open;High;Low;Close;Volume\nNABIL;2024-01-02;500;510;495;505;1000\n').bars.length, 1);
    assert.equal(read('Symbol\tDate\tOpen\tHigh\tLow\tClose\tVolume\nNABIL\t2024-01-02\t500\t510\t495\t505\t1000\n').bars.length, 1);
  });
});

describe('dates', () => {
  it('parses the common forms', () => {
    for (const [text, iso] of [
      ['2024-01-15', '2024-01-15'],
      ['2024-01-15 00:00:00', '2024-01-15'],
      ['2024-01-15T00:00:00Z', '2024-01-15'],
      ['2024/1/5', '2024-01-05'],
      ['20240115', '2024-01-15'],
      ['15-Jan-2024', '2024-01-15'],
      ['Jan 15, 2024', '2024-01-15'],
      ['15/01/2024', '2024-01-15'],
      ['1/15/2024', '2024-01-15'],
    ]) {
      const parsed = parseTradingDate(text);
      assert.ok(parsed.ok, text);
      assert.equal(parsed.iso, iso, text);
    }
  });

  it('refuses impossible days', () => {
    assert.equal(parseTradingDate('2023-02-29').ok, false);
    assert.equal(parseTradingDate('31/04/2024').ok, false);
    assert.equal(parseTradingDate('yesterday').ok, false);
  });

  it('reads ambiguous slash dates in the order the rest of the file reveals', () => {
    const csv = 'Symbol,Date,Open,High,Low,Close,Volume\nA,01/02/2024,1,1,1,1,1\nA,01/13/2024,1,1,1,1,1\n';
    assert.deepEqual(
      read(csv).bars.map((b) => b.date),
      ['2024-01-02', '2024-01-13'],
    );
    const dmy = 'Symbol,Date,Open,High,Low,Close,Volume\nA,01/02/2024,1,1,1,1,1\nA,13/01/2024,1,1,1,1,1\n';
    assert.deepEqual(
      read(dmy).bars.map((b) => b.date),
      ['2024-02-01', '2024-01-13'],
    );
  });

  it('refuses a file whose slash dates never reveal the order, unless the order is given', () => {
    const rows = Array.from({ length: 8 }, (_, i) => `A,0${i + 1}/02/2024,1,1,1,1,1`);
    const csv = `Symbol,Date,Open,High,Low,Close,Volume\n${rows.join('\n')}\n`;
    assert.throws(
      () => read(csv),
      (error: unknown) =>
        error instanceof MalformedCsvError &&
        error.field === 'date_order' &&
        /01\/02\/2024 \(line 2\), 03\/02\/2024 \(line 4\),.* and 2 more/.test(error.message) &&
        !error.message.includes('02/02/2024'),
    );
    assert.deepEqual(
      read(csv, { dayMonthOrder: 'DMY' })
        .bars.map((b) => b.date)
        .slice(0, 2),
      ['2024-02-01', '2024-02-02'],
    );
    assert.deepEqual(
      read(csv, { dayMonthOrder: 'MDY' })
        .bars.map((b) => b.date)
        .slice(0, 2),
      ['2024-01-02', '2024-02-02'],
    );
  });
});

describe('row validation', () => {
  it('rejects bad rows with their line numbers and reasons, keeping the good ones', () => {
    const csv = [
      'Symbol,Date,Open,High,Low,Close,Volume,Turnover',
      'NABIL,2024-01-02,500,510,495,505,1000,505000',
      'NABIL,2024-01-03,520,510,495,505,1000,1', // open above high
      'NABIL,2099-01-03,500,510,495,505,1000,1', // future
      'NABIL,2024-01-04,abc,510,495,505,1000,1', // not a number
      'NA BIL,2024-01-05,500,510,495,505,1000,1', // symbol
      'NABIL,2024-01-06,500,510,495,505,-1,1', // volume
      'NABIL,2024-01-07,500,510,495,505,1000,-5', // turnover
      'NABIL,2024-02-30,500,510,495,505,1000,1', // no such day
      '',
      'NABIL,2024-01-08,500,510,495,505,1000,1',
    ].join('\n');
    const result = read(csv);
    assert.deepEqual(
      result.bars.map((b) => b.date),
      ['2024-01-02', '2024-01-08'],
    );
    assert.deepEqual(
      result.rejected.map((r) => [r.line, r.field]),
      [
        [3, 'open'],
        [4, 'date'],
        [5, 'open'],
        [6, 'symbol'],
        [7, 'volume'],
        [8, 'turnover'],
        [9, 'date'],
      ],
    );
    assert.match(result.rejected[0].reason, /open 520 is above high 510/);
    assert.match(result.rejected[1].reason, /future/);
    assert.equal(result.rowsRead, 9);
  });
});

describe('RFC 4180 quoting', () => {
  const header = 'Symbol,Note,Date,Open,High,Low,Close,Volume';

  it('keeps a quoted line break inside its cell and numbers later rows by their first line', () => {
    const csv = [
      header,
      'NABIL,"split announced,',
      'book closure next week",2024-01-02,500,510,495,505,1000',
      'NABIL,"open above high',
      'on purpose",2024-01-03,520,510,495,505,1000',
      'NABIL,,2024-01-04,abc,510,495,505,1000',
      'NABIL,plain,2024-01-05,500,510,495,505,1000',
    ].join('\n');
    const result = read(csv);
    assert.deepEqual(
      result.bars.map((b) => [b.date, b.volume]),
      [
        ['2024-01-02', 1000],
        ['2024-01-05', 1000],
      ],
    );
    assert.deepEqual(
      result.rejected.map((r) => [r.line, r.field]),
      [
        [4, 'open'],
        [6, 'open'],
      ],
    );
    assert.equal(result.rowsRead, 4);
  });

  it('reads doubled quotes as one quote, and delimiters inside quotes as text', () => {
    const csv = `${header}\nNABIL,"he said ""buy, buy"", twice",2024-01-02,"1,000.00",1010,990,"1,005",1000\n`;
    const [bar] = read(csv).bars;
    assert.deepEqual([bar.date, bar.open, bar.high, bar.close, bar.volume], ['2024-01-02', 1000, 1010, 1005, 1000]);
  });

  it('reads quoted separators in a semicolon file', () => {
    const csv = 'Symbol;Note;Date;Open;High;Low;Close;Volume\nNABIL;"a;b";2024-01-02;500;510;495;505;1000\n';
    assert.equal(read(csv).bars[0].close, 505);
  });

  it('reads CRLF line ends, inside quoted cells too', () => {
    const csv = `${header}\r\nNABIL,"two\r\nlines",2024-01-02,500,510,495,505,1000\r\nNABIL,,2024-01-03,500,510,495,505,2000\r\n`;
    const result = read(csv);
    assert.deepEqual(
      result.bars.map((b) => b.volume),
      [1000, 2000],
    );
    assert.deepEqual(result.rejected, []);
  });

  it('ignores a UTF-8 byte order mark before the header', () => {
    const result = read(`\uFEFF${header}\nNABIL,,2024-01-02,500,510,495,505,1000\n`);
    assert.equal(result.headers[0], 'Symbol');
    assert.equal(result.bars.length, 1);
  });

  it('refuses a quoted cell that is never closed, naming the line it opened on', () => {
    assert.throws(
      () =>
        read(
          `${header}\nNABIL,,2024-01-02,500,510,495,505,1000\nNABIL,"unclosed,2024-01-03,500,510,495,505,1000\nNABIL,,2024-01-04,500,510,495,505,1000\n`,
        ),
      (error: unknown) => error instanceof MalformedCsvError && /line 3 is never closed/.test(error.message),
    );
  });

  it('refuses an unclosed quote that runs past the line limit, naming its first line', () => {
    const csv = `${header}\nNABIL,"unclosed\n${'NABIL,,2024-01-03,500,510,495,505,1000\n'.repeat(2000)}`;
    assert.throws(
      () => read(csv),
      (error: unknown) => error instanceof MalformedCsvError && /line 2 is longer than 65536 bytes \(a quoted cell/.test(error.message),
    );
  });
});

describe('malformed files', () => {
  const refuse = (bytes: Uint8Array | string, pattern: RegExp) =>
    assert.throws(
      () => {
        const reader = new CsvReader();
        reader.push(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
        reader.finish();
      },
      (error: unknown) => error instanceof MalformedCsvError && pattern.test(error.message),
    );

  it('refuses binary data', () => refuse(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 1, 2]), /binary/));
  it('refuses text that is not UTF-8', () => refuse(new Uint8Array([0x53, 0x79, 0xff, 0xfe, 0x0a]), /UTF-8/));
  it('refuses a file with no recognisable header', () => refuse('name,age\nbob,3\n'.repeat(30), /no recognisable header/));
  it('refuses a header that lacks a required column', () => refuse('Symbol,Date,Open,High,Low,Close\n', /lacks column\(s\) volume/));
  it('refuses an endless line before reading it all', () => refuse('x'.repeat(70 * 1024), /longer than 65536 bytes/));
  it('refuses an empty file', () => refuse('', /empty/));
});

describe('helpers', () => {
  it('splits quoted cells', () => assert.deepEqual(splitCsvLine('a,"b,c","d ""e""","f\ng"', ','), ['a', 'b,c', 'd "e"', 'f\ng']));
  it('parses exported numbers', () => {
    assert.equal(parseNumber('"1,234.50"'), 1234.5);
    assert.equal(parseNumber('Rs. 12'), 12);
    assert.ok(Number.isNaN(parseNumber('-')));
  });
});

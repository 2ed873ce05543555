/** Bad input to IngestionService: symbols, pages, ranges, prices and dates of bars, and CSV files that are not CSVs of bars. */
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { DateOrder, ImportCsvRequestSchema, type ImportOptionsSchema } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { drain, type BadInputBed } from './bed.js';
import { BAD_SYMBOLS, Code, FUTURE, GARBAGE_TOKEN, IMPOSSIBLE, REVERSED, UNKNOWN_SYMBOL, type BadCase } from './case.js';
import { endlessLine, notProtobuf, rawClientStream, refusedOf, silentAfter, trickle } from './wire.js';

const utf8 = (text: string) => new TextEncoder().encode(text);
const HEADER = 'Symbol,Date,Open,High,Low,Close,Volume';

/** A bar that passes every check; cases spoil one field of it. */
const goodBar = (change: Record<string, unknown> = {}) => ({
  symbol: 'BADIN',
  date: { year: 2024, month: 3, day: 4 },
  open: 100,
  high: 105,
  low: 98,
  close: 102,
  volume: 1_000,
  ...change,
});

/** Imports `csv` (text or bytes) in one chunk with `options`; resolves with what it refused. */
const importCsv = (bed: BadInputBed, csv: string | Uint8Array, options: Partial<MessageInitShape<typeof ImportOptionsSchema>> = {}) =>
  bed.direct.ingestion
    .importCsv([
      { options: { source: 'bad-input', ...options } as MessageInitShape<typeof ImportOptionsSchema> },
      { chunk: typeof csv === 'string' ? utf8(csv) : csv },
    ])
    .then(refusedOf);

const ingest = (bed: BadInputBed, bars: unknown[]) =>
  bed.direct.ingestion.ingestBars([{ bars: bars as never, source: 'bad-input' }]).then(refusedOf);

/** A row of the CSV with `close` written as given. */
const rowWithClose = (close: string) => `${HEADER}\nBADIN,2024-03-04,100,105,98,${close},1000\n`;

export const INGESTION_CASES: BadCase[] = [
  ...BAD_SYMBOLS.map(([label, symbol]): BadCase => ({
    name: `IngestionService.GetBars: symbol ${label}`,
    call: (bed) => drain(bed.direct.ingestion.getBars({ symbol })),
    code: Code.INVALID_ARGUMENT,
    field: 'symbol',
  })),
  {
    name: 'IngestionService.GetBars: unknown symbol',
    call: (bed) => drain(bed.direct.ingestion.getBars({ symbol: UNKNOWN_SYMBOL })),
    code: Code.NOT_FOUND,
    field: 'symbol',
  },
  {
    name: 'IngestionService.GetBars: reversed range',
    call: (bed) => drain(bed.direct.ingestion.getBars({ symbol: 'NABIL', range: REVERSED })),
    code: Code.INVALID_ARGUMENT,
    field: 'range.end',
  },
  {
    name: 'IngestionService.GetBars: impossible start date',
    call: (bed) => drain(bed.direct.ingestion.getBars({ symbol: 'NABIL', range: { start: IMPOSSIBLE } })),
    code: Code.INVALID_ARGUMENT,
    field: 'range.start',
  },
  {
    name: 'IngestionService.ListSymbols: negative page size',
    call: (bed) => bed.direct.ingestion.listSymbols({ pageSize: -1 }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_size',
  },
  {
    name: 'IngestionService.ListSymbols: huge page size is capped, not refused',
    call: (bed) => bed.direct.ingestion.listSymbols({ pageSize: 2 ** 31 - 1 }),
    code: Code.OK,
  },
  {
    name: 'IngestionService.ListSymbols: garbage page token',
    call: (bed) => bed.direct.ingestion.listSymbols({ pageToken: GARBAGE_TOKEN }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_token',
  },
  {
    name: 'IngestionService.ListSymbols: 64 KiB page token',
    call: (bed) => bed.direct.ingestion.listSymbols({ pageToken: 'A'.repeat(64 * 1024) }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_token',
  },

  // IngestBars keeps good bars and reports bad ones by position: each case sends only a bad one.
  ...BAD_SYMBOLS.map(([label, symbol]): BadCase => ({
    name: `IngestionService.IngestBars: symbol ${label}`,
    call: (bed) => ingest(bed, [goodBar({ symbol })]),
    code: Code.OK,
    field: 'bars[0].symbol',
  })),
  {
    name: 'IngestionService.IngestBars: NaN close',
    call: (bed) => ingest(bed, [goodBar({ close: NaN })]),
    code: Code.OK,
    field: 'bars[0].close',
  },
  {
    name: 'IngestionService.IngestBars: Infinity open',
    call: (bed) => ingest(bed, [goodBar({ open: Infinity })]),
    code: Code.OK,
    field: 'bars[0].open',
  },
  {
    name: 'IngestionService.IngestBars: -Infinity low',
    call: (bed) => ingest(bed, [goodBar({ low: -Infinity })]),
    code: Code.OK,
    field: 'bars[0].low',
  },
  {
    name: 'IngestionService.IngestBars: negative volume',
    call: (bed) => ingest(bed, [goodBar({ volume: -5 })]),
    code: Code.OK,
    field: 'bars[0].volume',
  },
  {
    name: 'IngestionService.IngestBars: low above high',
    call: (bed) => ingest(bed, [goodBar({ low: 110 })]),
    code: Code.OK,
    field: 'bars[0].low',
  },
  {
    name: 'IngestionService.IngestBars: impossible date',
    call: (bed) => ingest(bed, [goodBar({ date: IMPOSSIBLE })]),
    code: Code.OK,
    field: 'bars[0].date',
  },
  {
    name: 'IngestionService.IngestBars: future date',
    call: (bed) => ingest(bed, [goodBar({ date: FUTURE })]),
    code: Code.OK,
    field: 'bars[0].date',
  },
  {
    name: 'IngestionService.IngestBars: no date',
    call: (bed) => ingest(bed, [goodBar({ date: undefined })]),
    code: Code.OK,
    field: 'bars[0].date',
  },
  {
    name: 'IngestionService.IngestBars: over 10,000 bars in one message',
    call: (bed) =>
      ingest(
        bed,
        Array.from({ length: 10_001 }, () => goodBar({ close: NaN })),
      ),
    code: Code.INVALID_ARGUMENT,
    field: 'bars',
  },
  {
    name: 'IngestionService.IngestBars: random bytes as a stream message',
    call: (bed) => rawClientStream(bed.address.ingestion, '/nepse.ingestion.v1.IngestionService/IngestBars', [notProtobuf(512)]),
    code: Code.INVALID_ARGUMENT,
    field: 'requests[0]',
  },
  {
    name: 'IngestionService.IngestBars: a stream that never ends is cut at its deadline',
    call: async (bed) => {
      const stop = new AbortController();
      try {
        return await bed.direct.ingestion.ingestBars(silentAfter([{ bars: [goodBar({ close: NaN }) as never] }], stop.signal), {
          timeoutMs: 1_500,
        });
      } finally {
        stop.abort();
      }
    },
    code: Code.DEADLINE_EXCEEDED,
    withinMs: 6_000,
  },

  // ImportCsv: files that are not CSVs of bars are refused whole; bad rows one by one.
  {
    name: 'IngestionService.ImportCsv: no data at all',
    call: (bed) => bed.direct.ingestion.importCsv([{ options: { source: 'bad-input' } }]),
    code: Code.INVALID_ARGUMENT,
    field: 'chunk',
  },
  {
    name: 'IngestionService.ImportCsv: binary file',
    call: (bed) => importCsv(bed, notProtobuf(4096, 11)),
    code: Code.INVALID_ARGUMENT,
    field: 'chunk',
  },
  {
    name: 'IngestionService.ImportCsv: NUL bytes in a row',
    call: (bed) => importCsv(bed, `${HEADER}\nBADIN,2024-03-04,100,105,98,102,1000\u0000\u0000\n`),
    code: Code.INVALID_ARGUMENT,
    field: 'chunk',
  },
  {
    name: 'IngestionService.ImportCsv: not UTF-8 (Latin-1 bytes)',
    call: (bed) =>
      importCsv(bed, Uint8Array.from([...utf8(`${HEADER}\nBAD`), 0xc9, 0xff, 0xfe, ...utf8(',2024-03-04,100,105,98,102,1000\n')])),
    code: Code.INVALID_ARGUMENT,
    field: 'chunk',
  },
  {
    name: 'IngestionService.ImportCsv: header of unknown columns',
    call: (bed) => importCsv(bed, 'foo,bar,baz\n1,2,3\n'),
    code: Code.INVALID_ARGUMENT,
    field: 'chunk',
  },
  {
    name: 'IngestionService.ImportCsv: no close column',
    call: (bed) => importCsv(bed, 'Symbol,Date,Open,High,Low,Volume\nBADIN,2024-03-04,100,105,98,1000\n'),
    code: Code.INVALID_ARGUMENT,
    field: 'chunk',
  },
  {
    name: 'IngestionService.ImportCsv: no symbol column and no default symbol',
    call: (bed) => importCsv(bed, 'Date,Open,High,Low,Close,Volume\n2024-03-04,100,105,98,102,1000\n'),
    code: Code.INVALID_ARGUMENT,
    field: 'options.default_symbol',
  },
  {
    name: 'IngestionService.ImportCsv: rows with the wrong number of columns',
    call: (bed) => importCsv(bed, `${HEADER}\nBADIN,2024-03-04,100\n`),
    code: Code.OK,
    field: '',
  },
  {
    name: 'IngestionService.ImportCsv: ambiguous dates (01/02/2025)',
    call: (bed) => importCsv(bed, `${HEADER}\nBADIN,01/02/2025,100,105,98,102,1000\nBADIN,03/04/2025,100,105,98,102,1000\n`),
    code: Code.INVALID_ARGUMENT,
    field: 'options.date_order',
  },
  {
    name: 'IngestionService.ImportCsv: impossible date (2025-02-30)',
    call: (bed) => importCsv(bed, `${HEADER}\nBADIN,2025-02-30,100,105,98,102,1000\n`),
    code: Code.OK,
    field: 'date',
  },
  {
    name: 'IngestionService.ImportCsv: impossible date for the order given (30/02/2025, DMY)',
    call: (bed) => importCsv(bed, `${HEADER}\nBADIN,30/02/2025,100,105,98,102,1000\n`, { dateOrder: DateOrder.DMY }),
    code: Code.OK,
    field: 'date',
  },
  {
    name: 'IngestionService.ImportCsv: future date',
    call: (bed) => importCsv(bed, `${HEADER}\nBADIN,2099-01-04,100,105,98,102,1000\n`),
    code: Code.OK,
    field: 'date',
  },
  { name: 'IngestionService.ImportCsv: NaN close', call: (bed) => importCsv(bed, rowWithClose('NaN')), code: Code.OK, field: 'close' },
  {
    name: 'IngestionService.ImportCsv: Infinity close',
    call: (bed) => importCsv(bed, rowWithClose('Infinity')),
    code: Code.OK,
    field: 'close',
  },
  { name: 'IngestionService.ImportCsv: 1e400 close', call: (bed) => importCsv(bed, rowWithClose('1e400')), code: Code.OK, field: 'close' },
  {
    name: 'IngestionService.ImportCsv: close that is not a number',
    call: (bed) => importCsv(bed, rowWithClose('12O.5')),
    code: Code.OK,
    field: 'close',
  },
  {
    name: 'IngestionService.ImportCsv: lowercase SQL-like symbol',
    call: (bed) => importCsv(bed, `${HEADER}\nnabil'; drop table bars;--,2024-03-04,100,105,98,102,1000\n`),
    code: Code.OK,
    field: 'symbol',
  },
  {
    name: 'IngestionService.ImportCsv: source over 100 characters',
    call: (bed) => importCsv(bed, rowWithClose('102'), { source: 's'.repeat(101) }),
    code: Code.INVALID_ARGUMENT,
    field: 'options.source',
  },
  {
    name: 'IngestionService.ImportCsv: bad default symbol',
    call: (bed) => importCsv(bed, 'Date,Open,High,Low,Close,Volume\n2024-03-04,100,105,98,102,1000\n', { defaultSymbol: 'NO SUCH' }),
    code: Code.INVALID_ARGUMENT,
    field: 'options.default_symbol',
  },
  {
    name: 'IngestionService.ImportCsv: impossible default date',
    call: (bed) => importCsv(bed, 'Symbol,Open,High,Low,Close,Volume\nBADIN,100,105,98,102,1000\n', { defaultDate: IMPOSSIBLE }),
    code: Code.INVALID_ARGUMENT,
    field: 'options.default_date',
  },
  {
    name: 'IngestionService.ImportCsv: options after the first chunk',
    call: (bed) => bed.direct.ingestion.importCsv([{ chunk: utf8(rowWithClose('102')) }, { options: { source: 'late' } }]),
    code: Code.INVALID_ARGUMENT,
    field: 'options',
  },
  {
    name: 'IngestionService.ImportCsv: a 100 MB line is refused by the line limit without being sent whole',
    call: async (bed) => {
      const file = endlessLine(HEADER, 100 * 1024 * 1024, 256 * 1024, (chunk) => create(ImportCsvRequestSchema, { chunk }));
      try {
        return await bed.direct.ingestion.importCsv(file.requests, { timeoutMs: 60_000 });
      } finally {
        // The line limit is 64 KiB: the refusal must come long before the client has sent 100 MB.
        if (file.pulled() * 256 * 1024 > 32 * 1024 * 1024)
          throw new Error(`the client had to send ${file.pulled()} chunks of 256 KiB before the refusal`);
      }
    },
    code: Code.INVALID_ARGUMENT,
    field: 'chunk',
    withinMs: 30_000,
  },
  {
    name: 'IngestionService.ImportCsv: random bytes as a stream message',
    call: (bed) =>
      rawClientStream(bed.address.ingestion, '/nepse.ingestion.v1.IngestionService/ImportCsv', [
        toBinary(ImportCsvRequestSchema, create(ImportCsvRequestSchema, { options: { source: 'x' } })),
        notProtobuf(300, 3),
      ]),
    code: Code.INVALID_ARGUMENT,
    field: 'requests[1]',
  },
  {
    name: 'IngestionService.ImportCsv: a stream that trickles forever is cut at its deadline',
    call: (bed) =>
      bed.direct.ingestion.importCsv(
        trickle([{ chunk: utf8(`${HEADER}\n`) }], () => ({ chunk: utf8('BADIN,2024-03-04,100,105,98,NaN,1000\n') })),
        { timeoutMs: 1_500 },
      ),
    code: Code.DEADLINE_EXCEEDED,
    withinMs: 6_000,
  },
];

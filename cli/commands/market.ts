/** Market data commands against the ingestion service: import a CSV export, list symbols, read bars. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { DateOrder, SymbolInfoSchema, type SymbolInfo } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { BarSchema, type Bar } from '../../gen/nepse/market/v1/market_pb.js';
import { dayOf } from '../../lib/market/index.js';
import { choiceOption, dayOption, JSON_HELP, JSON_OPTION, printJson, stringOption, type Command } from '../command.js';
import { importProgress } from '../progress.js';

/** `nepse import <file.csv>`: streams the file through ImportCsv and reports what was stored. */
export const importCommand: Command = {
  usage: 'import <file.csv> [--symbol SYMBOL] [--date YYYY-MM-DD] [--source LABEL] [--date-order dmy|mdy] [--quiet]',
  summary:
    'Streams a CSV export (NEPSE, broker or portal layouts) to the ingestion service and prints what was stored and each refused row. Progress (bytes and rows sent) goes to stderr for files of 1 MB or more.',
  options: {
    symbol: { type: 'string' },
    date: { type: 'string' },
    source: { type: 'string' },
    'date-order': { type: 'string' },
    quiet: { type: 'boolean' },
  },
  optionHelp: {
    symbol: 'the symbol of a one-company history file, which has no Symbol column, e.g. --symbol NABIL',
    date: 'the trading day of a one-day price list, which has no Date column, e.g. --date 2024-01-15',
    source: 'a label stored with the bars, saying where they came from, e.g. --source nepse-floorsheet',
    'date-order': 'how to read slash dates that read both ways (01/02/2025), asked for only then, e.g. --date-order dmy',
    quiet: 'no progress line on stderr, only the outcome, e.g. --quiet',
  },
  args: { min: 1, max: 1 },
  async run({ args: [path], options, clients }) {
    const defaultDate = dayOption(stringOption(options, 'date'), '--date');
    // Needed only for files whose slash dates all read both ways (01/02/2025); the service asks for it.
    const dateOrder = choiceOption(
      stringOption(options, 'date-order'),
      '--date-order',
      { dmy: DateOrder.DMY, mdy: DateOrder.MDY },
      DateOrder.UNSPECIFIED,
    );
    const { size } = await stat(path);
    const progress = importProgress({
      totalBytes: options.quiet ? 0 : size,
      tty: Boolean(process.stderr.isTTY),
      write: (text) => process.stderr.write(text),
    });
    async function* requests() {
      yield {
        options: {
          source: stringOption(options, 'source') ?? '',
          fileName: path.split('/').pop() ?? '',
          defaultSymbol: stringOption(options, 'symbol') ?? '',
          defaultDate,
          dateOrder,
        },
      };
      for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
        progress.sent(chunk as Buffer);
        yield { chunk: chunk as Buffer };
      }
      progress.done();
    }
    const r = await clients.ingestion.importCsv(requests());
    console.log(`rows read ${r.rowsRead}, accepted ${r.rowsAccepted}, rejected ${r.rowsRejected}`);
    console.log(`bars new ${r.barsNew}, changed ${r.barsChanged}, unchanged ${r.barsUnchanged}; symbols: ${r.symbols.join(' ')}`);
    for (const row of r.rejectedRows) console.log(`  line ${row.line}: ${row.field}: ${row.reason}`);
  },
};

/** `nepse symbols`: every symbol with its coverage and last close. */
export const symbolsCommand: Command = {
  usage: 'symbols [--json]',
  summary: 'Lists every stored symbol with its first and last day, bar count and last close.',
  options: JSON_OPTION,
  optionHelp: { json: JSON_HELP },
  args: { min: 0, max: 0 },
  async run({ options, clients }) {
    let token = '';
    const all: SymbolInfo[] = [];
    do {
      const page = await clients.ingestion.listSymbols({ pageSize: 1000, pageToken: token });
      if (options.json) all.push(...page.symbols);
      else
        for (const s of page.symbols)
          console.log(
            `${s.symbol.padEnd(12)} ${dayOf(s.firstDate)} .. ${dayOf(s.lastDate)}  ${String(s.barCount).padStart(6)} bars  last close ${s.lastBar?.close}`,
          );
      token = page.nextPageToken;
    } while (token);
    if (options.json) printJson(SymbolInfoSchema, all);
  },
};

/** `nepse bars <SYMBOL>`: one symbol's bars in date order. */
export const barsCommand: Command = {
  usage: 'bars <SYMBOL> [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json]',
  summary: "Prints one symbol's daily bars (open, high, low, close, volume) in date order.",
  options: { from: { type: 'string' }, to: { type: 'string' }, ...JSON_OPTION },
  optionHelp: {
    from: 'the first day to print (inclusive), e.g. --from 2024-01-01',
    to: 'the last day to print (inclusive), e.g. --to 2024-03-31',
    json: JSON_HELP,
  },
  args: { min: 1, max: 1 },
  async run({ args: [symbol], options, clients }) {
    const range = { start: dayOption(stringOption(options, 'from'), '--from'), end: dayOption(stringOption(options, 'to'), '--to') };
    if (options.json) {
      const bars: Bar[] = [];
      for await (const page of clients.ingestion.getBars({ symbol, range })) bars.push(...page.bars);
      return printJson(BarSchema, bars);
    }
    console.log('date        open      high      low       close     volume');
    for await (const page of clients.ingestion.getBars({ symbol, range })) {
      for (const b of page.bars)
        console.log([dayOf(b.date), b.open, b.high, b.low, b.close, b.volume].map((v) => String(v).padEnd(9)).join(' '));
    }
  },
};

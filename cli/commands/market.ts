/** Market data commands against the ingestion service: import a CSV export, list symbols, read bars. */
import { createReadStream } from 'node:fs';
import { DateOrder } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { dayOf } from '../../lib/market/index.js';
import { choiceOption, dayOption, stringOption, type Command } from '../command.js';

/** `nepse import <file.csv>`: streams the file through ImportCsv and reports what was stored. */
export const importCommand: Command = {
  usage: 'import <file.csv> [--symbol SYMBOL] [--date YYYY-MM-DD] [--source LABEL] [--date-order dmy|mdy]',
  options: { symbol: { type: 'string' }, date: { type: 'string' }, source: { type: 'string' }, 'date-order': { type: 'string' } },
  args: { min: 1, max: 1 },
  async run({ args: [path], options, clients }) {
    const defaultDate = dayOption(stringOption(options, 'date'), '--date');
    // Needed only for files whose slash dates all read both ways (01/02/2025); the service asks for it.
    const dateOrder = choiceOption(stringOption(options, 'date-order'), '--date-order', { dmy: DateOrder.DMY, mdy: DateOrder.MDY }, DateOrder.UNSPECIFIED);
    async function* requests() {
      yield { options: { source: stringOption(options, 'source') ?? '', fileName: path.split('/').pop() ?? '', defaultSymbol: stringOption(options, 'symbol') ?? '', defaultDate, dateOrder } };
      for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) yield { chunk: chunk as Buffer };
    }
    const r = await clients.ingestion.importCsv(requests());
    console.log(`rows read ${r.rowsRead}, accepted ${r.rowsAccepted}, rejected ${r.rowsRejected}`);
    console.log(`bars new ${r.barsNew}, changed ${r.barsChanged}, unchanged ${r.barsUnchanged}; symbols: ${r.symbols.join(' ')}`);
    for (const row of r.rejectedRows) console.log(`  line ${row.line}: ${row.field}: ${row.reason}`);
  },
};

/** `nepse symbols`: every symbol with its coverage and last close. */
export const symbolsCommand: Command = {
  usage: 'symbols',
  args: { min: 0, max: 0 },
  async run({ clients }) {
    let token = '';
    do {
      const page = await clients.ingestion.listSymbols({ pageSize: 1000, pageToken: token });
      for (const s of page.symbols) console.log(`${s.symbol.padEnd(12)} ${dayOf(s.firstDate)} .. ${dayOf(s.lastDate)}  ${String(s.barCount).padStart(6)} bars  last close ${s.lastBar?.close}`);
      token = page.nextPageToken;
    } while (token);
  },
};

/** `nepse bars <SYMBOL>`: one symbol's bars in date order. */
export const barsCommand: Command = {
  usage: 'bars <SYMBOL> [--from YYYY-MM-DD] [--to YYYY-MM-DD]',
  options: { from: { type: 'string' }, to: { type: 'string' } },
  args: { min: 1, max: 1 },
  async run({ args: [symbol], options, clients }) {
    const range = { start: dayOption(stringOption(options, 'from'), '--from'), end: dayOption(stringOption(options, 'to'), '--to') };
    console.log('date        open      high      low       close     volume');
    for await (const page of clients.ingestion.getBars({ symbol, range })) {
      for (const b of page.bars) console.log([dayOf(b.date), b.open, b.high, b.low, b.close, b.volume].map((v) => String(v).padEnd(9)).join(' '));
    }
  },
};

/**
 * `nepse`: the operator's command line over the mesh's gRPC clients.
 *   npm run nepse -- import prices.csv [--symbol NABIL] [--date 2024-01-15] [--source label]
 *   npm run nepse -- symbols
 *   npm run nepse -- bars NABIL [--from 2024-01-01] [--to 2024-12-31]
 * Addresses default to the local ports of `make dev`; NEPSE_INGESTION_ADDR overrides.
 */
import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { IngestionService } from '../gen/nepse/ingestion/v1/ingestion_pb.js';
import { DEFAULT_PORTS } from '../lib/config/index.js';
import { createGrpcClient, statusDetails } from '../lib/grpc/index.js';
import { dayOf, toProtoDate } from '../lib/market/index.js';

const USAGE = `usage:
  nepse import <file.csv> [--symbol SYMBOL] [--date YYYY-MM-DD] [--source LABEL]
  nepse symbols
  nepse bars <SYMBOL> [--from YYYY-MM-DD] [--to YYYY-MM-DD]`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { symbol: { type: 'string' }, date: { type: 'string' }, source: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
});
const [command, argument] = positionals;
const ingestion = createGrpcClient(IngestionService, process.env.NEPSE_INGESTION_ADDR ?? `127.0.0.1:${DEFAULT_PORTS.ingestion}`, { defaultTimeoutMs: 600_000 });

async function importFile(path: string): Promise<void> {
  async function* requests() {
    yield { options: { source: values.source ?? '', fileName: path.split('/').pop() ?? '', defaultSymbol: values.symbol ?? '', defaultDate: values.date ? toProtoDate(values.date) : undefined } };
    for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) yield { chunk: chunk as Buffer };
  }
  const r = await ingestion.importCsv(requests());
  console.log(`rows read ${r.rowsRead}, accepted ${r.rowsAccepted}, rejected ${r.rowsRejected}`);
  console.log(`bars new ${r.barsNew}, changed ${r.barsChanged}, unchanged ${r.barsUnchanged}; symbols: ${r.symbols.join(' ')}`);
  for (const row of r.rejectedRows) console.log(`  line ${row.line}: ${row.field}: ${row.reason}`);
}

async function symbols(): Promise<void> {
  let token = '';
  do {
    const page = await ingestion.listSymbols({ pageSize: 1000, pageToken: token });
    for (const s of page.symbols) console.log(`${s.symbol.padEnd(12)} ${dayOf(s.firstDate)} .. ${dayOf(s.lastDate)}  ${String(s.barCount).padStart(6)} bars  last close ${s.lastBar?.close}`);
    token = page.nextPageToken;
  } while (token);
}

async function bars(symbol: string): Promise<void> {
  const range = { start: values.from ? toProtoDate(values.from) : undefined, end: values.to ? toProtoDate(values.to) : undefined };
  console.log('date        open      high      low       close     volume');
  for await (const page of ingestion.getBars({ symbol, range })) {
    for (const b of page.bars) console.log([dayOf(b.date), b.open, b.high, b.low, b.close, b.volume].map((v) => String(v).padEnd(9)).join(' '));
  }
}

try {
  if (command === 'import' && argument) await importFile(argument);
  else if (command === 'symbols') await symbols();
  else if (command === 'bars' && argument) await bars(argument);
  else {
    console.error(USAGE);
    process.exitCode = 2;
  }
} catch (error) {
  const details = statusDetails(error);
  console.error(`nepse: ${details ? `${details.message}${details.fieldViolations.map((v) => `\n  ${v.field}: ${v.description}`).join('')}` : (error as Error).message}`);
  process.exitCode = 1;
} finally {
  ingestion.close();
}

/**
 * A generator of NEPSE-like daily bars for the demo and for people who want data to play with:
 * listed-company-like symbols across NEPSE's sectors, sessions Sunday to Thursday without the main
 * public holidays, prices kept inside NEPSE's ±10 % daily circuit, a shared market factor, sector
 * moves, and a little short-term momentum and mean reversion so that models have something to find.
 *
 *   node --import tsx scripts/sample-market.ts [days] > prices.csv
 */
import { pathToFileURL } from 'node:url';
import { tradingDays, type SymbolBar } from '../lib/market/index.js';
import { createRandom } from '../lib/random/index.js';

/** A listed company: symbol, sector and a starting price in NPR. */
interface Listing {
  symbol: string;
  sector: 'bank' | 'hydro' | 'insurance' | 'hotel' | 'manufacturing' | 'finance';
  price: number;
}

/** Symbols in the style of NEPSE listings (names only; prices and volumes are synthetic). */
export const UNIVERSE: readonly Listing[] = [
  { symbol: 'NABIL', sector: 'bank', price: 520 },
  { symbol: 'NICA', sector: 'bank', price: 610 },
  { symbol: 'EBL', sector: 'bank', price: 580 },
  { symbol: 'SCB', sector: 'bank', price: 560 },
  { symbol: 'HBL', sector: 'bank', price: 210 },
  { symbol: 'NMB', sector: 'bank', price: 240 },
  { symbol: 'GBIME', sector: 'bank', price: 220 },
  { symbol: 'ADBL', sector: 'bank', price: 280 },
  { symbol: 'CZBIL', sector: 'bank', price: 200 },
  { symbol: 'PRVU', sector: 'bank', price: 190 },
  { symbol: 'UPPER', sector: 'hydro', price: 230 },
  { symbol: 'CHCL', sector: 'hydro', price: 510 },
  { symbol: 'NHPC', sector: 'hydro', price: 180 },
  { symbol: 'API', sector: 'hydro', price: 260 },
  { symbol: 'AKPL', sector: 'hydro', price: 240 },
  { symbol: 'BPCL', sector: 'hydro', price: 390 },
  { symbol: 'NLIC', sector: 'insurance', price: 760 },
  { symbol: 'LICN', sector: 'insurance', price: 840 },
  { symbol: 'NLG', sector: 'insurance', price: 690 },
  { symbol: 'SICL', sector: 'insurance', price: 720 },
  { symbol: 'SHL', sector: 'hotel', price: 350 },
  { symbol: 'TRH', sector: 'hotel', price: 420 },
  { symbol: 'OHL', sector: 'hotel', price: 610 },
  { symbol: 'UNL', sector: 'manufacturing', price: 1900 },
  { symbol: 'HDL', sector: 'manufacturing', price: 1450 },
  { symbol: 'BNT', sector: 'manufacturing', price: 1200 },
  { symbol: 'SHIVM', sector: 'manufacturing', price: 540 },
  { symbol: 'CIT', sector: 'finance', price: 2200 },
  { symbol: 'NIFRA', sector: 'finance', price: 250 },
  { symbol: 'HIDCL', sector: 'finance', price: 200 },
];

/** One generated session of one symbol: the kit's bar with turnover and trades always given. */
export type SampleBar = SymbolBar & Required<Pick<SymbolBar, 'turnover' | 'trades'>>;

const round = (x: number) => Math.round(x * 10) / 10;

/** Bars of every symbol over the given days, deterministic for a seed; sorted by day, then symbol. */
export function generateMarket(days: readonly string[], options: { symbols?: number; seed?: number } = {}): SampleBar[] {
  const random = createRandom(options.seed ?? 2082);
  const listings = UNIVERSE.slice(0, options.symbols ?? UNIVERSE.length);
  const state = listings.map((l) => ({ close: l.price, lastReturn: 0, average: l.price, volume: 5_000 + random.uniform() * 50_000 }));
  const bars: SampleBar[] = [];
  for (const date of days) {
    const market = 0.006 * random.gaussian();
    const sectors = new Map(['bank', 'hydro', 'insurance', 'hotel', 'manufacturing', 'finance'].map((s) => [s, 0.005 * random.gaussian()]));
    listings.forEach((listing, i) => {
      const s = state[i];
      // Short-term momentum and a pull back toward the recent average: the structure a model can learn.
      const drift = 0.25 * s.lastReturn - 0.1 * Math.log(s.close / s.average);
      const move = Math.max(-0.095, Math.min(0.095, drift + market + (sectors.get(listing.sector) ?? 0) + 0.012 * random.gaussian()));
      const open = round(s.close * (1 + 0.003 * random.gaussian()));
      const close = round(Math.max(10, s.close * Math.exp(move)));
      const high = round(Math.max(open, close) * (1 + 0.008 * random.uniform()));
      const low = round(Math.min(open, close) * (1 - 0.008 * random.uniform()));
      s.volume = Math.max(100, s.volume * Math.exp(0.3 * random.gaussian() + 0.02 * Math.log(30_000 / s.volume)));
      const volume = Math.round(s.volume * (1 + 5 * Math.abs(move)));
      bars.push({
        symbol: listing.symbol,
        date,
        open,
        high,
        low,
        close,
        volume,
        turnover: Math.round((volume * (open + close)) / 2),
        trades: Math.max(1, Math.round(volume / 40)),
      });
      s.lastReturn = Math.log(close / s.close);
      s.average = 0.95 * s.average + 0.05 * close;
      s.close = close;
    });
  }
  return bars;
}

/** The bars as a NEPSE-style CSV export. */
export function toCsv(bars: readonly SymbolBar[]): string {
  const lines = ['Symbol,Business Date,Open Price,High Price,Low Price,Close Price,Total Traded Quantity,Total Traded Amount,Total Trades'];
  // Turnover and trades are optional: a blank cell reads as unknown.
  for (const b of bars)
    lines.push([b.symbol, b.date, b.open, b.high, b.low, b.close, b.volume, b.turnover ?? '', b.trades ?? ''].join(','));
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const days = Number(process.argv[2] ?? 750);
  process.stdout.write(toCsv(generateMarket(tradingDays(days, new Date().toISOString().slice(0, 10)))));
}

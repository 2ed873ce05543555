/**
 * Recognises the column layouts NEPSE price data comes in, by header name. NEPSE's own
 * "today's price" and historical exports, the public data portals' per-symbol history pages, the
 * exchange API's JSON flattened to CSV, and the usual data-set dumps all name the same few columns
 * differently ("Close Price", "LTP", "Closing Price"; "Vol", "Qty", "Total Traded Quantity" …).
 * Headers are compared case-, space- and punctuation-insensitively.
 */

/** The columns a bar is made of. */
export type Column = 'symbol' | 'date' | 'open' | 'high' | 'low' | 'close' | 'volume' | 'turnover' | 'trades';

const SYNONYMS: Record<Column, readonly string[]> = {
  symbol: ['symbol', 'stocksymbol', 'scrip', 'scripsymbol', 'ticker', 'securitysymbol', 'companysymbol', 'stock'],
  date: ['date', 'businessdate', 'tradingdate', 'tradedate', 'asofdate', 'publisheddate', 'datead', 'day'],
  open: ['open', 'openprice', 'openingprice', 'opening'],
  high: ['high', 'highprice', 'maxprice', 'max', 'highest'],
  low: ['low', 'lowprice', 'minprice', 'min', 'lowest'],
  close: ['close', 'closeprice', 'closingprice', 'ltp', 'lasttradedprice', 'lastprice', 'closeltp', 'ltpclose', 'lastupdatedprice'],
  volume: [
    'volume',
    'vol',
    'qty',
    'quantity',
    'totaltradedquantity',
    'tradedquantity',
    'tradedshares',
    'sharestraded',
    'totaltradedshares',
    'totalquantity',
    'tradedqty',
  ],
  turnover: [
    'turnover',
    'amount',
    'totaltradedamount',
    'totaltradedvalue',
    'tradedamount',
    'turnoverrs',
    'value',
    'totalturnover',
    'tradedvalue',
  ],
  trades: [
    'transactions',
    'trans',
    'transaction',
    'nooftransaction',
    'nooftransactions',
    'notransactions',
    'totaltrades',
    'trades',
    'totaltransactions',
    'nooftrades',
  ],
};

const LOOKUP = new Map<string, Column>(
  (Object.entries(SYNONYMS) as [Column, readonly string[]][]).flatMap(([column, names]) => names.map((name) => [name, column] as const)),
);

/** Folds a header cell to its comparison key: lower case, letters and digits only. */
export function headerKey(cell: string): string {
  return cell.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** Where each known column sits in a row; unknown columns are ignored. */
export type Layout = Partial<Record<Column, number>>;

/** Columns every layout must have (symbol and date may instead come with the import request). */
export const REQUIRED_PRICE_COLUMNS: readonly Column[] = ['open', 'high', 'low', 'close'];

/**
 * The layout of a header row, or undefined when the row names none of the price columns (then it
 * is not a header at all). The first column of a kind wins ("Close" before "Prev. Close").
 */
export function detectLayout(cells: readonly string[]): Layout | undefined {
  const layout: Layout = {};
  cells.forEach((cell, index) => {
    const column = LOOKUP.get(headerKey(cell));
    if (column !== undefined && layout[column] === undefined) layout[column] = index;
  });
  const priceColumns = REQUIRED_PRICE_COLUMNS.filter((c) => layout[c] !== undefined).length;
  return priceColumns >= 2 ? layout : undefined;
}

/** Required columns a layout lacks, given what the request supplies itself. */
export function missingColumns(layout: Layout, supplied: { symbol: boolean; date: boolean }): Column[] {
  const required: Column[] = [...REQUIRED_PRICE_COLUMNS, 'volume'];
  if (!supplied.symbol) required.unshift('symbol');
  if (!supplied.date) required.unshift('date');
  return required.filter((c) => layout[c] === undefined);
}

/** Market vocabulary shared by the services: symbols, model names, trading days, paging conventions, feature bins and drift. */
export { normaliseSymbol, isValidSymbol, requireSymbol } from './symbol.js';
export type { DailyBar, SymbolBar } from './bar.js';
export { isModelName, MODEL_NAME_CHARS, MODEL_NAME_PATTERN } from './model-name.js';
export { isoDate, dayOf, toProtoDate, fromProtoDate, barMessage, rangeBounds, todayInNepal } from './dates.js';
export { pageSize, encodePageToken, decodePageToken, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './paging.js';
export { binIndex } from './feature-bins.js';
export { DRIFT_DEFAULTS } from './drift.js';
export {
  holidayTableCoverage,
  isTradingDay,
  nepalTimeOn,
  nextTradingDay,
  onPastHolidayTable,
  tradingDays,
  NEPAL_OFFSET_MS,
} from './calendar.js';

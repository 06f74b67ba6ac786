// Shapes of the appliance's REST and WebSocket payloads (see the realtime guide).

export const INTERVALS = ['1s', '5s', '1m', '15m', '1h', '4h', '1d'] as const
export type Interval = (typeof INTERVALS)[number]

export const INTERVAL_SECONDS: Record<Interval, number> = {
  '1s': 1,
  '5s': 5,
  '1m': 60,
  '15m': 900,
  '1h': 3600,
  '4h': 14400,
  '1d': 86400,
}

export function isInterval(value: unknown): value is Interval {
  return typeof value === 'string' && (INTERVALS as readonly string[]).includes(value)
}

export const INDICATOR_TYPES = ['rsi', 'macd', 'bollinger', 'momentum'] as const
export type IndicatorType = (typeof INDICATOR_TYPES)[number]

/** A REST candle; the WebSocket adds `symbol` and `timeframe`. */
export interface Candle {
  time: string
  open: number
  high: number
  low: number
  close: number
  volume: number
  trades: number
  quote_volume: number
  taker_buy_volume: number
  closed: boolean
}

export interface LiveCandle extends Candle {
  symbol: string
  timeframe: Interval
}

export interface Trade {
  symbol: string
  price: number
  quantity: number
  side: 'buy' | 'sell'
  time: string
  trade_id: number
}

/** `value` is the RSI, the MACD line, the middle band or the momentum. */
export interface IndicatorPoint {
  ts: number
  value: number
  signal?: number
  histogram?: number
  upper?: number
  lower?: number
}

export interface LiveIndicator extends IndicatorPoint {
  symbol: string
  timeframe: Interval
  type: IndicatorType
  final: boolean
}

export interface NewsItem {
  id: string
  title: string
  url: string
  source: string
  published_at: string
  summary: string
  symbols: string[]
  sentiment: number
}

export interface SymbolInfo {
  symbol: string
  exchange: string
  first_trade: string
  last_trade: string
}

export interface Stats {
  symbol: string
  high_24h: number
  low_24h: number
  change_24h: number
  volume_24h: number
}

export interface CandlesPage {
  symbol: string
  interval: Interval
  data: Candle[]
}

export interface IndicatorsPage {
  symbol: string
  type: IndicatorType
  interval: Interval
  data: IndicatorPoint[]
}

/** `reset`: the server's history no longer reaches back to the `since_seq` asked for. */
export interface ResetData {
  type: string
  symbol: string
  timeframe: string | null
  oldest_seq: number | null
  last_seq: number
}

export interface LaggedData {
  dropped_trades: number
  coalesced_candles: number
  dropped_messages: number
}

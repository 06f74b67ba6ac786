// Candles and indicator points as the chart holds them: times in epoch seconds.

import type { Candle, IndicatorPoint } from '../services/types'
import { SeriesBook } from './seriesBook'

export interface Bar {
  time: number
  open: number
  high: number
  low: number
  close: number
  volume: number
  trades: number
  closed: boolean
}

export interface IndicatorBar {
  time: number
  value: number
  signal?: number
  histogram?: number
  upper?: number
  lower?: number
  final: boolean
}

export function toBar(c: Candle): Bar {
  return {
    time: Math.floor(Date.parse(c.time) / 1000),
    open: c.open,
    high: c.high,
    low: c.low,
    close: c.close,
    volume: c.volume,
    trades: c.trades,
    closed: c.closed,
  }
}

export function toIndicatorBar(p: IndicatorPoint, final = true): IndicatorBar {
  const bar: IndicatorBar = { time: Math.floor(p.ts / 1000), value: p.value, final }
  if (p.signal !== undefined) bar.signal = p.signal
  if (p.histogram !== undefined) bar.histogram = p.histogram
  if (p.upper !== undefined) bar.upper = p.upper
  if (p.lower !== undefined) bar.lower = p.lower
  return bar
}

/** A closed candle beats a forming one; between two of a kind, the one with more trades
 *  (a late trade amends a closed candle, and forming updates only grow). */
export function candleSupersedes(current: Bar, incoming: Bar): boolean {
  if (current.closed !== incoming.closed) return incoming.closed
  return incoming.trades >= current.trades
}

/** A final value beats a provisional one (values of the forming candle). */
export function indicatorSupersedes(current: IndicatorBar, incoming: IndicatorBar): boolean {
  return incoming.final || !current.final
}

export function candleBook(capacity = 2000): SeriesBook<Bar> {
  return new SeriesBook<Bar>(candleSupersedes, capacity)
}

export function indicatorBook(capacity = 2000): SeriesBook<IndicatorBar> {
  return new SeriesBook<IndicatorBar>(indicatorSupersedes, capacity)
}

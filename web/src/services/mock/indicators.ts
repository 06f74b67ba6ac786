// The four indicators over a list of closes, for the mock stream only (the appliance
// computes the real ones). Each function returns one point per close, null while warming up.

import type { IndicatorPoint, IndicatorType } from '../types'

type Point = Omit<IndicatorPoint, 'ts'> | null

function ema(values: number[], period: number): number[] {
  const k = 2 / (period + 1)
  const out: number[] = []
  values.forEach((v, i) => out.push(i === 0 ? v : v * k + (out[i - 1] as number) * (1 - k)))
  return out
}

function rsi(closes: number[], period = 14): Point[] {
  let gain = 0
  let loss = 0
  return closes.map((close, i) => {
    if (i === 0) return null
    const change = close - (closes[i - 1] as number)
    const up = Math.max(change, 0)
    const down = Math.max(-change, 0)
    if (i <= period) {
      gain += up / period
      loss += down / period
      if (i < period) return null
    } else {
      gain = (gain * (period - 1) + up) / period
      loss = (loss * (period - 1) + down) / period
    }
    return { value: loss === 0 ? 100 : 100 - 100 / (1 + gain / loss) }
  })
}

function macd(closes: number[]): Point[] {
  const fast = ema(closes, 12)
  const slow = ema(closes, 26)
  const line = closes.map((_, i) => (fast[i] as number) - (slow[i] as number))
  const signal = ema(line, 9)
  return line.map((value, i) =>
    i < 33 ? null : { value, signal: signal[i] as number, histogram: value - (signal[i] as number) },
  )
}

function bollinger(closes: number[], period = 20, k = 2): Point[] {
  return closes.map((_, i) => {
    if (i < period - 1) return null
    const window = closes.slice(i - period + 1, i + 1)
    const mean = window.reduce((a, b) => a + b, 0) / period
    const sd = Math.sqrt(window.reduce((a, b) => a + (b - mean) ** 2, 0) / period)
    return { value: mean, upper: mean + k * sd, lower: mean - k * sd }
  })
}

function momentum(closes: number[], period = 10): Point[] {
  return closes.map((close, i) => (i < period ? null : { value: close - (closes[i - period] as number) }))
}

export function indicatorSeries(type: IndicatorType, closes: number[]): Point[] {
  switch (type) {
    case 'rsi':
      return rsi(closes)
    case 'macd':
      return macd(closes)
    case 'bollinger':
      return bollinger(closes)
    case 'momentum':
      return momentum(closes)
  }
}

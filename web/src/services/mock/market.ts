// A local stand-in for the appliance (VITE_USE_MOCK=true): a seeded random walk per symbol
// with candles for every interval, indicators and a few headlines, numbered per stream the
// way the hub numbers them, so the dashboard can be worked on without a backend.

import {
  INDICATOR_TYPES,
  INTERVAL_SECONDS,
  INTERVALS,
  type Candle,
  type IndicatorPoint,
  type IndicatorType,
  type Interval,
  type NewsItem,
  type Stats,
  type SymbolInfo,
} from '../types'
import { indicatorSeries } from './indicators'

export interface Frame {
  stream: string
  type: 'trade' | 'candle' | 'indicator' | 'news'
  seq: number
  data: Record<string, unknown>
  timestamp: number
}

interface Bar {
  time: number // open time, epoch ms
  open: number
  high: number
  low: number
  close: number
  volume: number
  trades: number
  closed: boolean
}

const START: Record<string, number> = { BTCUSDT: 61_000, ETHUSDT: 2_600, SOLUSDT: 150 }
const HISTORY_BARS = 600
const HISTORY_FRAMES = 1000
const TICK_MS = 200
const HEADLINES = [
  ['Bitcoin holds above key support as ETF inflows continue', ['BTCUSDT'], 0.45],
  ['Ether slips after network upgrade delay', ['ETHUSDT'], -0.38],
  ['Solana activity hits record; fees stay low', ['SOLUSDT'], 0.62],
  ['Regulators signal tighter rules for exchanges', [], -0.27],
  ['BTC and ETH trade sideways ahead of macro data', ['BTCUSDT', 'ETHUSDT'], 0.02],
] as const

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z')

export class MockMarket {
  readonly symbols = Object.keys(START)
  private readonly rng: () => number
  private readonly price = new Map<string, number>()
  private readonly bars = new Map<string, Bar[]>()
  private readonly streams = new Map<string, { seq: number; history: Frame[] }>()
  private readonly listeners = new Set<(frame: Frame) => void>()
  private readonly lastProvisional = new Map<string, number>()
  private readonly news: NewsItem[] = []
  private timer: ReturnType<typeof setInterval> | null = null
  private tradeId = 1
  private ticks = 0

  constructor(seed = 7, now = Date.now()) {
    this.rng = mulberry32(seed)
    for (const symbol of this.symbols) {
      this.price.set(symbol, START[symbol] as number)
      for (const interval of INTERVALS) this.bars.set(`${symbol}|${interval}`, this.history(symbol, interval, now))
    }
    for (let i = 0; i < 3; i++) this.addNews(now - (3 - i) * 600_000)
  }

  /** Listens to every frame; the walk runs while someone listens. */
  listen(listener: (frame: Frame) => void): () => void {
    this.listeners.add(listener)
    this.timer ??= setInterval(() => this.tick(Date.now()), TICK_MS)
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer)
        this.timer = null
      }
    }
  }

  /** Frames of `stream` after `since`, or null when the history no longer reaches back. */
  resume(stream: string, since: number): { frames: Frame[]; last: number; oldest: number | null } | null {
    const s = this.streams.get(stream)
    const last = s?.seq ?? 0
    const oldest = s?.history[0]?.seq ?? null
    if (since === last) return { frames: [], last, oldest }
    if (!s || since > last || oldest === null || since < oldest - 1) return null
    return { frames: s.history.filter((f) => f.seq > since), last, oldest }
  }

  /** The forming candle's latest frame, sent on subscribe like the hub's snapshot. */
  latest(stream: string): Frame | undefined {
    const history = this.streams.get(stream)?.history
    return history?.[history.length - 1]
  }

  lastSeq(stream: string): { last: number; oldest: number | null } {
    const s = this.streams.get(stream)
    return { last: s?.seq ?? 0, oldest: s?.history[0]?.seq ?? null }
  }

  // -- REST ----------------------------------------------------------------------------

  symbolList(): SymbolInfo[] {
    return this.symbols.map((symbol) => {
      const bars = this.bars.get(`${symbol}|1s`) ?? []
      return {
        symbol,
        exchange: 'mock',
        first_trade: iso(bars[0]?.time ?? Date.now()),
        last_trade: iso(bars[bars.length - 1]?.time ?? Date.now()),
      }
    })
  }

  candles(symbol: string, interval: Interval, limit: number): Candle[] {
    return (this.bars.get(`${symbol}|${interval}`) ?? []).slice(-limit).map(toCandle)
  }

  indicators(symbol: string, type: IndicatorType, interval: Interval, limit: number): IndicatorPoint[] {
    const bars = (this.bars.get(`${symbol}|${interval}`) ?? []).filter((b) => b.closed)
    const points = indicatorSeries(
      type,
      bars.map((b) => b.close),
    )
    const out: IndicatorPoint[] = []
    points.forEach((p, i) => {
      if (p) out.push({ ts: (bars[i] as Bar).time, ...p })
    })
    return out.slice(-limit)
  }

  stats(symbol: string): Stats {
    const day = (this.bars.get(`${symbol}|1h`) ?? []).slice(-24)
    const first = day[0]?.open ?? 0
    const last = day[day.length - 1]?.close ?? 0
    return {
      symbol,
      high_24h: Math.max(...day.map((b) => b.high)),
      low_24h: Math.min(...day.map((b) => b.low)),
      change_24h: first ? ((last - first) / first) * 100 : 0,
      volume_24h: day.reduce((a, b) => a + b.volume, 0),
    }
  }

  newsList(limit: number, symbol?: string): NewsItem[] {
    return this.news.filter((n) => !symbol || n.symbols.includes(symbol)).slice(0, limit)
  }

  // -- the walk ------------------------------------------------------------------------

  private history(symbol: string, interval: Interval, now: number): Bar[] {
    const step = INTERVAL_SECONDS[interval] * 1000
    const end = Math.floor(now / step) * step
    let close = this.price.get(symbol) as number
    const bars: Bar[] = []
    for (let i = 0; i < HISTORY_BARS; i++) {
      const time = end - i * step
      const vol = close * 0.00015 * Math.sqrt(INTERVAL_SECONDS[interval])
      const open = close + this.gauss() * vol
      const high = Math.max(open, close) + Math.abs(this.gauss()) * vol * 0.5
      const low = Math.min(open, close) - Math.abs(this.gauss()) * vol * 0.5
      const volume = (5 + this.rng() * 20) * Math.sqrt(INTERVAL_SECONDS[interval])
      bars.push({ time, open, high, low, close, volume, trades: Math.round(volume * 7), closed: i > 0 })
      close = open
    }
    return bars.reverse()
  }

  private gauss(): number {
    return Math.sqrt(-2 * Math.log(1 - this.rng())) * Math.cos(2 * Math.PI * this.rng())
  }

  private tick(now: number): void {
    this.ticks++
    for (const symbol of this.symbols) {
      const count = 1 + Math.floor(this.rng() * 3)
      for (let i = 0; i < count; i++) this.trade(symbol, now)
      for (const interval of INTERVALS) this.candleUpdate(symbol, interval, now)
    }
    if (this.ticks % 100 === 0) this.addNews(now)
  }

  private trade(symbol: string, now: number): void {
    const last = this.price.get(symbol) as number
    const price = Math.max(0.01, last * (1 + this.gauss() * 0.0002))
    const quantity = Number(((1000 / price) * Math.exp(this.gauss())).toPrecision(4))
    this.price.set(symbol, price)
    const side = this.rng() < 0.5 ? 'buy' : 'sell'
    const data = {
      symbol,
      price: round(price),
      quantity,
      side,
      time: new Date(now).toISOString(),
      trade_id: this.tradeId++,
    }
    this.publish(`trades|${symbol}|`, 'trade', data)
    for (const interval of INTERVALS) this.fold(symbol, interval, now, price, quantity)
  }

  private fold(symbol: string, interval: Interval, now: number, price: number, quantity: number): void {
    const bars = this.bars.get(`${symbol}|${interval}`) as Bar[]
    const step = INTERVAL_SECONDS[interval] * 1000
    const time = Math.floor(now / step) * step
    let bar = bars[bars.length - 1] as Bar
    while (bar.time < time) {
      bar.closed = true
      this.emitCandle(symbol, interval, bar)
      const next: Bar = {
        time: bar.time + step,
        open: bar.close,
        high: bar.close,
        low: bar.close,
        close: bar.close,
        volume: 0,
        trades: 0,
        closed: false,
      }
      bars.push(next)
      if (bars.length > HISTORY_BARS * 2) bars.splice(0, bars.length - HISTORY_BARS)
      bar = next
    }
    bar.high = Math.max(bar.high, price)
    bar.low = Math.min(bar.low, price)
    bar.close = price
    bar.volume += quantity
    bar.trades += 1
  }

  private candleUpdate(symbol: string, interval: Interval, now: number): void {
    const bars = this.bars.get(`${symbol}|${interval}`) as Bar[]
    this.emitCandle(symbol, interval, bars[bars.length - 1] as Bar)
    const key = `${symbol}|${interval}`
    if (now - (this.lastProvisional.get(key) ?? 0) >= 1000) {
      this.lastProvisional.set(key, now)
      this.emitIndicators(symbol, interval, false)
    }
  }

  private emitCandle(symbol: string, interval: Interval, bar: Bar): void {
    this.publish(`candles|${symbol}|${interval}`, 'candle', { ...toCandle(bar), symbol, timeframe: interval })
    if (bar.closed) this.emitIndicators(symbol, interval, true)
  }

  private emitIndicators(symbol: string, interval: Interval, final: boolean): void {
    // The whole series, as the REST history is computed: the EMAs then agree at the seam.
    const bars = this.bars.get(`${symbol}|${interval}`) as Bar[]
    const upTo = final ? bars.filter((b) => b.closed) : bars
    const last = upTo[upTo.length - 1]
    if (!last) return
    for (const type of INDICATOR_TYPES) {
      const point = indicatorSeries(
        type,
        upTo.map((b) => b.close),
      ).at(-1)
      if (point) {
        this.publish(`indicators|${symbol}|${interval}`, 'indicator', {
          symbol,
          timeframe: interval,
          type,
          ts: last.time,
          final,
          ...point,
        })
      }
    }
  }

  private addNews(now: number): void {
    const [title, symbols, sentiment] = HEADLINES[this.news.length % HEADLINES.length] as (typeof HEADLINES)[number]
    const item: NewsItem = {
      id: `mock-${this.news.length + 1}`,
      title,
      url: `https://example.com/news/${this.news.length + 1}`,
      source: 'example.com',
      published_at: iso(Math.floor(now / 1000) * 1000),
      summary: 'Mock headline for working on the dashboard without a backend.',
      symbols: [...symbols],
      sentiment,
    }
    this.news.unshift(item)
    this.publish('news|*|', 'news', item as unknown as Record<string, unknown>)
  }

  private publish(stream: string, type: Frame['type'], data: Record<string, unknown>): void {
    let s = this.streams.get(stream)
    if (!s) this.streams.set(stream, (s = { seq: 0, history: [] }))
    s.seq += 1
    const frame: Frame = { stream, type, seq: s.seq, data, timestamp: Date.now() }
    s.history.push(frame)
    if (s.history.length > HISTORY_FRAMES) s.history.shift()
    for (const listener of this.listeners) listener(frame)
  }
}

function round(value: number): number {
  return Number(value.toPrecision(8))
}

function toCandle(bar: Bar): Candle {
  return {
    time: iso(bar.time),
    open: round(bar.open),
    high: round(bar.high),
    low: round(bar.low),
    close: round(bar.close),
    volume: round(bar.volume),
    trades: bar.trades,
    quote_volume: round(bar.volume * bar.close),
    taker_buy_volume: round(bar.volume / 2),
    closed: bar.closed,
  }
}

let market: MockMarket | null = null

/** One market per page, shared by the mock socket and the mock REST routes. */
export function mockMarket(): MockMarket {
  market ??= new MockMarket()
  return market
}

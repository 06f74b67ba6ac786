// A WebSocket look-alike that speaks the hub's protocol to the mock market, in the page.

import { normalize, resumeStream, subKey, type Subscription, type SubscriptionType } from '../streams'
import type { SocketLike } from '../transport'
import { mockMarket, type Frame, type MockMarket } from './market'

const TYPES: ReadonlySet<string> = new Set(['candles', 'trades', 'indicators', 'news'])
const TIMEFRAMES: ReadonlySet<string> = new Set(['1s', '5s', '1m', '15m', '1h', '4h', '1d'])
const SUB_OF: Record<Frame['type'], SubscriptionType> = {
  trade: 'trades',
  candle: 'candles',
  indicator: 'indicators',
  news: 'news',
}

interface Request {
  action?: unknown
  type?: unknown
  symbol?: unknown
  timeframe?: unknown
  since_seq?: unknown
}

export class MockSocket implements SocketLike {
  readyState = 0
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  private readonly subs = new Map<string, Subscription>()
  private stopListening: (() => void) | null = null

  constructor(private readonly market: MockMarket) {
    setTimeout(() => {
      if (this.readyState !== 0) return
      this.readyState = 1
      this.stopListening = market.listen(this.deliver)
      this.onopen?.({})
    })
  }

  send(text: string): void {
    if (this.readyState !== 1) throw new Error('mock socket is not open')
    let req: Request
    try {
      req = JSON.parse(text) as Request
    } catch {
      this.reply('error', { code: 'invalid_json', message: 'not a JSON document' })
      return
    }
    queueMicrotask(() => this.handle(req))
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return
    this.readyState = 3
    this.stopListening?.()
    setTimeout(() => this.onclose?.({ code, reason }))
  }

  private handle(req: Request): void {
    if (this.readyState !== 1) return
    if (req.action === 'ping') return this.reply('pong', null)
    if (req.action === 'list_subscriptions') return this.reply('subscriptions', [...this.subs.values()].map(echo))
    if (req.action !== 'subscribe' && req.action !== 'unsubscribe') {
      return this.reply('error', { code: 'unknown_action', message: `unknown action ${JSON.stringify(req.action)}` })
    }
    if (typeof req.type !== 'string' || !TYPES.has(req.type)) {
      return this.reply('error', { code: 'unknown_type', message: `unknown type ${JSON.stringify(req.type)}` })
    }
    if (typeof req.symbol !== 'string' || !/^(\*|[A-Za-z0-9]{2,20})$/.test(req.symbol)) {
      return this.reply('error', { code: 'invalid_symbol', message: `malformed symbol ${JSON.stringify(req.symbol)}` })
    }
    const tf = typeof req.timeframe === 'string' ? req.timeframe : undefined
    if (tf !== undefined && !TIMEFRAMES.has(tf)) {
      return this.reply('error', { code: 'invalid_timeframe', message: `invalid timeframe ${JSON.stringify(tf)}` })
    }
    const sub = normalize(req.type as SubscriptionType, req.symbol, tf)
    const key = subKey(sub)
    if (req.action === 'unsubscribe') {
      if (!this.subs.delete(key))
        return this.reply('error', { code: 'not_subscribed', message: `no subscription ${key}` })
      return this.reply('unsubscribed', echo(sub))
    }
    this.subs.set(key, sub)
    this.reply('subscribed', echo(sub))
    this.catchUp(sub, typeof req.since_seq === 'number' ? req.since_seq : undefined)
  }

  /** The resume or the snapshot the hub sends after a subscribe. */
  private catchUp(sub: Subscription, since: number | undefined): void {
    const stream = resumeStream(sub)
    if (since !== undefined && stream) {
      const resumed = this.market.resume(stream, since)
      if (resumed) {
        for (const frame of resumed.frames) if (matches(sub, frame)) this.emit(frame)
        return
      }
      const { last, oldest } = this.market.lastSeq(stream)
      this.reply('reset', { ...echo(sub), oldest_seq: oldest, last_seq: last })
    }
    if (sub.type === 'candles' && stream) {
      const latest = this.market.latest(stream)
      if (latest) this.emit(latest)
    }
  }

  private readonly deliver = (frame: Frame): void => {
    for (const sub of this.subs.values()) {
      if (matches(sub, frame)) {
        this.emit(frame)
        return
      }
    }
  }

  private emit(frame: Frame): void {
    this.write({ type: frame.type, data: frame.data, timestamp: frame.timestamp, seq: frame.seq })
  }

  private reply(type: string, data: unknown): void {
    this.write({ type, data, timestamp: Date.now() })
  }

  private write(doc: object): void {
    if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(doc) })
  }
}

function echo(sub: Subscription): { type: string; symbol: string; timeframe: string | null } {
  return { type: sub.type, symbol: sub.symbol, timeframe: sub.timeframe ?? null }
}

function matches(sub: Subscription, frame: Frame): boolean {
  if (SUB_OF[frame.type] !== sub.type) return false
  if (sub.timeframe !== undefined && frame.data.timeframe !== sub.timeframe) return false
  if (sub.symbol === '*') return true
  if (frame.type === 'news') return (frame.data.symbols as string[]).includes(sub.symbol)
  return frame.data.symbol === sub.symbol
}

export function createMockSocket(_url: string): SocketLike {
  return new MockSocket(mockMarket())
}

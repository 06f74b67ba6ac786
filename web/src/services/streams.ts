// Subscriptions and the sequence numbers that let a reconnect resume where it stopped.
//
// The hub numbers each stream on its own: a (symbol, timeframe)'s candles or indicators,
// a symbol's trades, and the one news stream. A subscription to one symbol can resume
// with `since_seq`; a wildcard one cannot (except news, which is one stream anyway).

export type SubscriptionType = 'candles' | 'trades' | 'indicators' | 'news'

export interface Subscription {
  type: SubscriptionType
  symbol: string
  timeframe?: string
}

const WITH_TIMEFRAME: ReadonlySet<string> = new Set(['candles', 'indicators'])
const NEWS_STREAM = 'news|*|'

/** The server's defaults applied: symbols upper case, timeframe 1m where one applies. */
export function normalize(type: SubscriptionType, symbol: string, timeframe?: string): Subscription {
  const sym = symbol === '*' ? '*' : symbol.toUpperCase()
  return WITH_TIMEFRAME.has(type) ? { type, symbol: sym, timeframe: timeframe ?? '1m' } : { type, symbol: sym }
}

export function subKey(sub: Subscription): string {
  return `${sub.type}|${sub.symbol}|${sub.timeframe ?? ''}`
}

/** The stream whose numbering a subscription resumes from, or null for a wildcard. */
export function resumeStream(sub: Subscription): string | null {
  if (sub.type === 'news') return NEWS_STREAM
  return sub.symbol === '*' ? null : subKey(sub)
}

interface Framed {
  type: string
  data: unknown
}

function field(data: unknown, name: string): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const value = (data as Record<string, unknown>)[name]
  return typeof value === 'string' ? value : undefined
}

/** The stream a data message belongs to, or null for control messages. */
export function streamOf(msg: Framed): string | null {
  const symbol = field(msg.data, 'symbol')
  switch (msg.type) {
    case 'candle':
      return symbol ? `candles|${symbol}|${field(msg.data, 'timeframe') ?? ''}` : null
    case 'indicator':
      return symbol ? `indicators|${symbol}|${field(msg.data, 'timeframe') ?? ''}` : null
    case 'trade':
      return symbol ? `trades|${symbol}|` : null
    case 'news':
      return NEWS_STREAM
    default:
      return null
  }
}

/** The stream a `reset` names. */
export function streamOfReset(data: unknown): string | null {
  const type = field(data, 'type')
  const symbol = field(data, 'symbol')
  if (type === 'news') return NEWS_STREAM
  if (!type || !symbol) return null
  return `${type}|${symbol}|${field(data, 'timeframe') ?? ''}`
}

/** The last sequence number seen per stream.
 *
 *  "Last", not "highest": after a server restart the numbering starts again, and the next
 *  resume must follow the new numbering. */
export class SeqBook {
  private readonly seqs = new Map<string, number>()

  see(stream: string, seq: number): void {
    this.seqs.set(stream, seq)
  }

  get(stream: string): number | undefined {
    return this.seqs.get(stream)
  }

  forget(stream: string): void {
    this.seqs.delete(stream)
  }
}

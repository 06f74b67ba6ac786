// Subscription keys and the streams a resume follows.

import { describe, expect, it } from 'vitest'
import { backoffDelay } from '../src/services/backoff'
import { endpoints, wsUrlFor } from '../src/services/config'
import { normalize, resumeStream, SeqBook, streamOf, streamOfReset, subKey } from '../src/services/streams'

describe('streams', () => {
  it('applies the server defaults to subscriptions', () => {
    expect(normalize('candles', 'btcusdt')).toEqual({ type: 'candles', symbol: 'BTCUSDT', timeframe: '1m' })
    expect(normalize('trades', 'ethusdt', '5s')).toEqual({ type: 'trades', symbol: 'ETHUSDT' })
    expect(subKey(normalize('indicators', 'BTCUSDT', '1h'))).toBe('indicators|BTCUSDT|1h')
  })

  it('resumes one symbol or the news, never a wildcard of a per-symbol type', () => {
    expect(resumeStream(normalize('candles', '*'))).toBeNull()
    expect(resumeStream(normalize('news', 'BTCUSDT'))).toBe('news|*|')
    expect(resumeStream(normalize('trades', 'BTCUSDT'))).toBe('trades|BTCUSDT|')
  })

  it('maps messages and resets to their streams', () => {
    expect(streamOf({ type: 'candle', data: { symbol: 'BTCUSDT', timeframe: '1s' } })).toBe('candles|BTCUSDT|1s')
    expect(streamOf({ type: 'indicator', data: { symbol: 'BTCUSDT', timeframe: '1m', type: 'rsi' } })).toBe(
      'indicators|BTCUSDT|1m',
    )
    expect(streamOf({ type: 'trade', data: { symbol: 'ETHUSDT' } })).toBe('trades|ETHUSDT|')
    expect(streamOf({ type: 'news', data: { symbols: [] } })).toBe('news|*|')
    expect(streamOf({ type: 'pong', data: null })).toBeNull()
    expect(streamOfReset({ type: 'candles', symbol: 'BTCUSDT', timeframe: '1m', oldest_seq: 5, last_seq: 9 })).toBe(
      'candles|BTCUSDT|1m',
    )
    expect(streamOfReset({ type: 'trades', symbol: 'BTCUSDT', timeframe: null })).toBe('trades|BTCUSDT|')
  })

  it('remembers the last sequence number, also when it goes down (a restarted server)', () => {
    const book = new SeqBook()
    book.see('s', 900)
    book.see('s', 3)
    expect(book.get('s')).toBe(3)
    book.forget('s')
    expect(book.get('s')).toBeUndefined()
  })
})

describe('backoff', () => {
  it('doubles up to the cap, with half of each delay random', () => {
    const opts = { baseMs: 500, capMs: 10_000 }
    expect([1, 2, 3, 4, 5, 6, 10].map((n) => backoffDelay(n, opts, () => 0))).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000,
    ])
    expect([1, 2, 3, 6].map((n) => backoffDelay(n, opts, () => 1))).toEqual([500, 1000, 2000, 10_000])
  })
})

describe('endpoints', () => {
  it('derives the WebSocket URL from the API origin, and takes explicit ones as given', () => {
    expect(wsUrlFor('https://viz.example.com/')).toBe('wss://viz.example.com/ws/crypto')
    expect(endpoints({ VITE_API_URL: 'http://localhost:8080' })).toEqual({
      apiUrl: 'http://localhost:8080',
      wsUrl: 'ws://localhost:8080/ws/crypto',
      useMock: false,
    })
    expect(endpoints({ VITE_API_URL: 'http://a:1', VITE_WS_URL: 'ws://b:2/x', VITE_USE_MOCK: 'true' })).toEqual({
      apiUrl: 'http://a:1',
      wsUrl: 'ws://b:2/x',
      useMock: true,
    })
  })
})

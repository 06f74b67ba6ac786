// VITE_USE_MOCK=true: the same rt client and REST helpers, fed by the in-page mock market.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { fetchCandles, fetchIndicators, fetchNews, fetchStats, fetchSymbols } from '../src/services/api'
import { disconnectRT, getRTClient } from '../src/services/rt'
import { INTERVAL_SECONDS, type LiveCandle, type LiveIndicator, type Trade } from '../src/services/types'
import { toBar } from '../src/lib/bars'
import { gaps } from '../src/lib/seriesBook'
import { createMockSocket } from '../src/services/mock/socket'
import { Recorder } from './support/recorder'
import { waitUntil } from './support/wait'

describe('mock mode', () => {
  beforeEach(() => {
    vi.stubEnv('VITE_USE_MOCK', 'true')
    vi.stubEnv('VITE_WS_URL', 'ws://127.0.0.1:9/ws/crypto') // nothing listens there: only the mock can answer
  })

  afterEach(() => {
    disconnectRT()
    vi.unstubAllEnvs()
  })

  it('connects without a server and streams numbered candles, trades and indicators', async () => {
    const rt = getRTClient()
    await rt.connect()
    const seen = new Recorder(rt, ['subscribed', 'candle', 'trade', 'indicator'])
    rt.subscribe('candles', 'BTCUSDT', '1s')
    rt.subscribe('trades', 'BTCUSDT')
    rt.subscribe('indicators', 'BTCUSDT', '1s')

    await waitUntil(() => seen.of('subscribed').length === 3, { what: 'three acks' })
    // The forming candle comes at once, then moves.
    await waitUntil(() => seen.of('candle').length >= 4, { what: 'candle updates' })
    await waitUntil(() => seen.of('trade').length >= 3, { what: 'trades' })
    await waitUntil(() => new Set(seen.of<LiveIndicator>('indicator').map((m) => m.data.type)).size === 4, {
      what: 'all four indicators',
    })

    const candles = seen.of<LiveCandle>('candle')
    expect(candles.every((m) => m.data.symbol === 'BTCUSDT' && m.data.timeframe === '1s')).toBe(true)
    const seqs = candles.map((m) => m.seq as number)
    expect(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number))).toBe(true)
    expect(seen.of<Trade>('trade').every((m) => m.data.symbol === 'BTCUSDT')).toBe(true)
    const rsi = seen.of<LiveIndicator>('indicator', (d) => d.type === 'rsi').at(-1)?.data
    expect(rsi?.value).toBeGreaterThanOrEqual(0)
    expect(rsi?.value).toBeLessThanOrEqual(100)
    const bands = seen.of<LiveIndicator>('indicator', (d) => d.type === 'bollinger').at(-1)?.data
    expect(bands?.upper).toBeGreaterThanOrEqual(bands?.lower as number)
  })

  it('answers ping, list_subscriptions, unsubscribe and bad requests like the hub', async () => {
    const rt = getRTClient()
    await rt.connect()
    const seen = new Recorder(rt, ['pong', 'subscriptions', 'subscribed', 'unsubscribed', 'error', 'candle'])
    rt.ping()
    rt.subscribe('candles', 'ETHUSDT')
    await waitUntil(() => seen.of('pong').length === 1 && seen.of('subscribed').length === 1, { what: 'pong and ack' })
    expect(seen.of('subscribed')[0]?.data).toEqual({ type: 'candles', symbol: 'ETHUSDT', timeframe: '1m' })

    rt.listSubscriptions()
    await waitUntil(() => seen.of('subscriptions').length === 1, { what: 'subscriptions' })
    expect(seen.of('subscriptions')[0]?.data).toEqual([{ type: 'candles', symbol: 'ETHUSDT', timeframe: '1m' }])

    rt.unsubscribe('candles', 'ETHUSDT')
    await waitUntil(() => seen.of('unsubscribed').length === 1, { what: 'unsubscribed' })
    const count = seen.of('candle').length
    // Proof that time passed with the market moving: trades keep coming, candles do not.
    const trades = new Recorder(rt, ['trade'])
    rt.subscribe('trades', 'ETHUSDT')
    await waitUntil(() => trades.of('trade').length >= 10, { what: 'ten trades after the unsubscribe' })
    expect(seen.of('candle').length).toBe(count)

    rt.subscribe('candles', 'BTCUSDT', '2m')
    await waitUntil(() => seen.of('error').length === 1, { what: 'error reply' })
    expect(seen.of<{ code: string }>('error')[0]?.data.code).toBe('invalid_timeframe')
  })

  it('disconnectRT() closes the page client; the next getRTClient() is a new one', async () => {
    const rt = getRTClient()
    await rt.connect()
    expect(rt.status.state).toBe('open')
    disconnectRT()
    expect(rt.status.state).toBe('idle')
    const next = getRTClient()
    expect(next).not.toBe(rt)
    await next.connect()
    expect(next.status.opens).toBe(1)
  })

  it('resumes from since_seq, or resets when the history is too short', async () => {
    const socket = createMockSocket('mock')
    const received: Array<{ type: string; seq?: number; data: unknown }> = []
    socket.onmessage = (ev) => received.push(JSON.parse(ev.data as string))
    await waitUntil(() => socket.readyState === 1, { what: 'mock socket open' })
    socket.send(JSON.stringify({ action: 'subscribe', type: 'trades', symbol: 'SOLUSDT' }))
    await waitUntil(() => received.filter((m) => m.type === 'trade').length >= 5, { what: 'five trades' })
    const seqs = received.filter((m) => m.type === 'trade').map((m) => m.seq as number)
    socket.close()

    const again = createMockSocket('mock')
    const resumed: typeof received = []
    again.onmessage = (ev) => resumed.push(JSON.parse(ev.data as string))
    await waitUntil(() => again.readyState === 1, { what: 'second mock socket open' })
    const since = seqs[1] as number
    again.send(JSON.stringify({ action: 'subscribe', type: 'trades', symbol: 'SOLUSDT', since_seq: since }))
    await waitUntil(() => resumed.filter((m) => m.type === 'trade').length >= 5, { what: 'resumed trades' })
    const next = resumed.filter((m) => m.type === 'trade').map((m) => m.seq as number)
    expect(next.slice(0, 3)).toEqual([since + 1, since + 2, since + 3])

    again.send(JSON.stringify({ action: 'subscribe', type: 'trades', symbol: 'SOLUSDT', since_seq: 10_000_000 }))
    await waitUntil(() => resumed.some((m) => m.type === 'reset'), { what: 'reset' })
    again.close()
  })

  it('answers the REST routes with continuous, consistent history', async () => {
    const symbols = await fetchSymbols()
    expect(symbols.map((s) => s.symbol)).toContain('BTCUSDT')
    for (const interval of ['1s', '1m', '1d'] as const) {
      const candles = await fetchCandles('BTCUSDT', interval, { limit: 300 })
      expect(candles).toHaveLength(300)
      expect(gaps(candles.map(toBar), INTERVAL_SECONDS[interval])).toEqual([])
      for (const c of candles) {
        expect(c.low).toBeLessThanOrEqual(Math.min(c.open, c.close))
        expect(c.high).toBeGreaterThanOrEqual(Math.max(c.open, c.close))
      }
    }
    const macd = await fetchIndicators('BTCUSDT', 'macd', '1m', 100)
    expect(macd.length).toBeGreaterThan(50)
    expect(macd.every((p) => p.signal !== undefined && p.histogram !== undefined)).toBe(true)
    const stats = await fetchStats('ETHUSDT')
    expect(stats.high_24h).toBeGreaterThanOrEqual(stats.low_24h)
    const news = await fetchNews(10, 'BTCUSDT')
    expect(news.length).toBeGreaterThan(0)
    expect(news.every((n) => n.symbols.includes('BTCUSDT'))).toBe(true)
    await expect(fetchStats('NOPEUSDT')).rejects.toMatchObject({ status: 404, code: 'unknown_symbol' })
  })
})

// rt.ts against the real appliance: `cryptoviz serve` replaying a recorded Binance session
// at the recording's own pace, started by this file.

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { disconnectRT, getRTClient, RTClient, type WSMessage } from '../src/services/rt'
import type { LiveCandle, Trade } from '../src/services/types'
import { Backend, replayEnv, requireBackend } from './support/backend'
import { CuttableProxy } from './support/proxy'
import { Recorder } from './support/recorder'
import { waitUntil } from './support/wait'
import { installWebSocket } from './support/websocket'

const FAST = { baseMs: 100, capMs: 400 }
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/

describe.runIf(requireBackend())('rt client against a real backend', () => {
  let backend: Backend
  const clients: RTClient[] = []

  function client(url: string): RTClient {
    const rt = new RTClient({ url, backoff: FAST })
    clients.push(rt)
    return rt
  }

  beforeAll(async () => {
    installWebSocket()
    backend = await Backend.start({ env: replayEnv(1) })
  })

  afterEach(() => {
    for (const rt of clients.splice(0)) rt.close()
    disconnectRT()
    vi.unstubAllEnvs()
  })

  afterAll(async () => {
    await backend?.close()
  })

  it('getRTClient() follows VITE_WS_URL, is one client, and streams candles that update while forming', async () => {
    vi.stubEnv('VITE_WS_URL', backend.wsUrl)
    const rt = getRTClient()
    expect(getRTClient()).toBe(rt)
    expect(rt.url).toBe(backend.wsUrl)
    await rt.connect()
    const seen = new Recorder(rt, ['subscribed', 'candle'])
    rt.subscribe('candles', 'BTCUSDT', '1m')

    await waitUntil(() => seen.of('subscribed').length === 1, { what: 'subscribed ack' })
    expect(seen.of('subscribed')[0]?.data).toEqual({ type: 'candles', symbol: 'BTCUSDT', timeframe: '1m' })
    // The forming 1m candle: several updates with the same open time and growing trade counts.
    const updates = await waitUntil(
      () => {
        const byTime = new Map<string, number[]>()
        for (const m of seen.of<LiveCandle>('candle'))
          byTime.set(m.data.time, [...(byTime.get(m.data.time) ?? []), m.data.trades])
        return [...byTime.values()].find((counts) => new Set(counts).size >= 3)
      },
      { timeoutMs: 60_000, what: 'three updates of one forming candle' },
    )
    expect([...updates].sort((a, b) => a - b)).toEqual(updates)

    const candles = seen.of<LiveCandle>('candle')
    for (const { data, seq, timestamp } of candles) {
      expect(data).toMatchObject({ symbol: 'BTCUSDT', timeframe: '1m' })
      expect(data.time).toMatch(RFC3339)
      expect(data.low).toBeLessThanOrEqual(Math.min(data.open, data.close))
      expect(data.high).toBeGreaterThanOrEqual(Math.max(data.open, data.close))
      for (const key of ['volume', 'trades', 'quote_volume', 'taker_buy_volume'] as const)
        expect(typeof data[key]).toBe('number')
      expect(typeof data.closed).toBe('boolean')
      expect(typeof seq).toBe('number')
      expect(timestamp).toBeGreaterThan(1.7e12)
    }
    const seqs = candles.map((m) => m.seq as number)
    expect(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number))).toBe(true)
  })

  it('answers ping, lists and drops subscriptions, and keeps handlers apart', async () => {
    const rt = client(backend.wsUrl)
    await rt.connect()
    const seen = new Recorder(rt, ['pong', 'subscriptions', 'subscribed', 'unsubscribed', 'trade'])
    let removedCalls = 0
    const remove = rt.on('trade', () => removedCalls++)
    remove()

    rt.ping()
    await waitUntil(() => seen.of('pong').length === 1, { what: 'pong' })

    rt.subscribe('trades', 'btcusdt')
    rt.subscribe('news', '*')
    await waitUntil(() => seen.of('subscribed').length === 2, { what: 'two subscribed acks' })
    rt.listSubscriptions()
    const listed = await waitUntil(() => seen.of<unknown[]>('subscriptions')[0], { what: 'subscriptions reply' })
    expect(listed.data).toEqual([
      { type: 'news', symbol: '*', timeframe: null },
      { type: 'trades', symbol: 'BTCUSDT', timeframe: null },
    ])
    expect(rt.subscriptions()).toHaveLength(2)

    await waitUntil(() => seen.of('trade').length >= 5, { timeoutMs: 60_000, what: 'five trades' })
    expect(removedCalls).toBe(0)
    const trade = seen.of<Trade>('trade')[0]?.data as Trade
    expect(trade).toMatchObject({ symbol: 'BTCUSDT' })
    expect(['buy', 'sell']).toContain(trade.side)
    expect(trade.time).toMatch(RFC3339)
    expect(Number.isInteger(trade.trade_id)).toBe(true)

    rt.unsubscribe('trades', 'BTCUSDT')
    await waitUntil(() => seen.of('unsubscribed').length === 1, { what: 'unsubscribed ack' })
    const after = seen.of('trade').length
    rt.ping() // the pong comes after anything the server queued before the unsubscribe
    await waitUntil(() => seen.of('pong').length === 2, { what: 'second pong' })
    const settled = seen.of('trade').length
    rt.ping()
    await waitUntil(() => seen.of('pong').length === 3, { what: 'third pong' })
    expect(seen.of('trade').length).toBe(settled)
    expect(settled - after).toBeLessThan(50)
  })

  it('reports a bad request as an error message and keeps the connection', async () => {
    const rt = client(backend.wsUrl)
    await rt.connect()
    const seen = new Recorder(rt, ['error', 'pong'])
    rt.subscribe('candles', 'BTCUSDT', '3m')
    const error = await waitUntil(() => seen.of<{ code: string; message: string }>('error')[0], { what: 'error reply' })
    expect(error.data.code).toBe('invalid_timeframe')
    rt.ping()
    await waitUntil(() => seen.of('pong').length === 1, { what: 'pong after the error' })
    expect(rt.status.state).toBe('open')
  })

  it('resumes with since_seq after a dropped connection: no trade missing, none twice', async () => {
    const proxy = await CuttableProxy.start(backend.port)
    try {
      const rt = client(proxy.wsUrl)
      const states: string[] = []
      rt.onStatus((s) => states.push(s.state))
      await rt.connect()
      const seen = new Recorder(rt, ['trade', 'reset'])
      rt.subscribe('trades', 'BTCUSDT')
      await waitUntil(() => seen.of('trade').length >= 20, { timeoutMs: 60_000, what: '20 trades before the cut' })

      proxy.cut()
      await waitUntil(() => rt.status.state === 'reconnecting', { what: 'reconnecting after the cut' })
      const before = seen.of('trade').length
      const lastBefore = seen.of('trade').at(-1)?.seq as number
      // Stay away until the server has stored trades newer than the last one we got.
      const lastTime = Date.parse((seen.of<Trade>('trade').at(-1)?.data as Trade).time)
      await waitUntil(
        async () => {
          const latest = await backend.getJSON<{ timestamp: string }>('/api/v1/crypto/BTCUSDT/latest')
          return Date.parse(latest.timestamp) > lastTime + 1000
        },
        { timeoutMs: 60_000, what: 'trades published during the cut' },
      )
      proxy.restore()

      await waitUntil(() => rt.status.opens === 2, { timeoutMs: 30_000, what: 'reconnected' })
      await waitUntil(() => seen.of('trade').length >= before + 40, {
        timeoutMs: 60_000,
        what: 'trades after the reconnect',
      })
      expect(seen.of('reset')).toHaveLength(0)
      const seqs = seen.of('trade').map((m: WSMessage) => m.seq as number)
      const resumedFrom = seqs.indexOf(lastBefore)
      expect(resumedFrom).toBe(before - 1)
      // Every number from the first to the last, once: what happened during the cut came on resume.
      expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] as number) + i))
      expect(states).toContain('reconnecting')
      expect(proxy.connections).toBe(2)
    } finally {
      await proxy.close()
    }
  })

  it('retries for as long as the server is down, then re-subscribes by itself', async () => {
    const rt = client(backend.wsUrl)
    await rt.connect()
    const seen = new Recorder(rt, ['candle', 'subscribed'])
    rt.subscribe('candles', 'BTCUSDT', '1s')
    await waitUntil(() => seen.of('candle').length > 0, { timeoutMs: 60_000, what: 'a candle before the stop' })

    await backend.stop()
    await waitUntil(() => rt.status.state === 'reconnecting' && rt.status.attempt >= 3, {
      timeoutMs: 30_000,
      what: 'three failed attempts while the server is down',
    })
    const delays: number[] = []
    const off = rt.onStatus((s) => {
      if (s.nextRetryAt !== null) delays.push(s.nextRetryAt - Date.now())
    })
    await expect(rt.connect()).rejects.toThrow(/WebSocket/)
    await waitUntil(() => delays.length >= 3, { what: 'more retries scheduled' })
    off()
    expect(Math.max(...delays)).toBeLessThanOrEqual(FAST.capMs)

    const acksBefore = seen.of('subscribed').length
    const candlesBefore = seen.of('candle').length
    await backend.start()
    await waitUntil(() => rt.status.state === 'open', { timeoutMs: 60_000, what: 'open again once the server is back' })
    await waitUntil(() => seen.of('subscribed').length > acksBefore, { what: 'the subscription renewed' })
    await waitUntil(() => seen.of('candle').length > candlesBefore, { timeoutMs: 60_000, what: 'candles again' })
    expect(rt.status.opens).toBe(2)
  })
})

// What the end-to-end tests check the drawn chart against: the stored candles, and time.

import type { Page } from 'playwright-core'
import type { Backend } from '../../tests/support/backend'
import { chart, chartWhen, contiguous, restTimes, type ChartSnapshot, type RestCandle } from './page'

const STEP = { '1s': 1, '1m': 60 } as const

/** Why the drawn chart differs from the stored candles, or null when every stored candle in
 *  its range is drawn, equal, with no window missing. */
export async function differsFromRest(
  backend: Backend,
  page: Page,
  interval: '1s' | '1m',
  symbol = 'BTCUSDT',
): Promise<string | null> {
  const drawn = await chart(page)
  if (!drawn || drawn.interval !== interval || drawn.candles.length < 2) return 'chart not ready'
  const times = drawn.candles.map((c) => c.time)
  if (!contiguous(times, STEP[interval])) return `chart has a hole: ${JSON.stringify(times.slice(-20))}`
  const rest = (
    await backend.getJSON<{ data: RestCandle[] }>(`/api/v1/crypto/${symbol}/data?interval=${interval}&limit=1000`)
  ).data
  const first = times[0] as number
  const last = times[times.length - 1] as number
  const byTime = new Map(drawn.candles.map((c) => [c.time, c]))
  for (const [i, stored] of rest.entries()) {
    const t = restTimes([stored])[0] as number
    if (t < first || t > last) continue
    const shown = byTime.get(t)
    if (!shown) return `stored candle ${stored.time} not drawn`
    const isLast = i === rest.length - 1 || t === last
    if (
      stored.closed &&
      !isLast &&
      (shown.open !== stored.open ||
        shown.high !== stored.high ||
        shown.low !== stored.low ||
        shown.close !== stored.close)
    ) {
      return `candle ${stored.time} drawn ${JSON.stringify(shown)}, stored ${JSON.stringify(stored)}`
    }
  }
  const storedTimes = new Set(restTimes(rest))
  const extra = times.filter((t) => !storedTimes.has(t) && t !== last)
  return extra.length ? `drawn but not stored: ${extra.slice(0, 5).join(', ')}` : null
}

/** The newest drawn candle moves while its open time stays: the forming candle is live. */
export async function formingCandleMoves(page: Page, timeoutMs: number): Promise<void> {
  const start = await chartWhen(page, (c) => c.candles.length > 0, 'a candle to watch')
  const first = start.candles.at(-1) as ChartSnapshot['candles'][number]
  const firstVolume = start.volume.at(-1)
  await chartWhen(
    page,
    (c) => {
      const now = c.candles.at(-1)
      return !!now && now.time === first.time && (c.volume.at(-1) !== firstVolume || now.close !== first.close)
    },
    `candle ${first.time} to move while forming`,
    timeoutMs,
  )
}

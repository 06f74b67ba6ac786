// A live source through an outage: the simulator trades on the wall clock, so seconds pass
// while the server is down. Once it is back, the appliance fills those windows with flat
// candles, and the open dashboard must show every one of them without being reloaded.

import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Backend, requireBackend } from '../tests/support/backend'
import { waitUntil } from '../tests/support/wait'
import { launch, PageErrors, type Browser } from './support/browser'
import { differsFromRest } from './support/checks'
import { chart, chartWhen, type ChartSnapshot } from './support/page'

const OUTAGE_MS = 4_000

describe.runIf(requireBackend())('dashboard through a server outage', () => {
  let backend: Backend
  let browser: Browser
  let page: Page
  let errors: PageErrors

  beforeAll(async () => {
    backend = await Backend.start({
      env: {
        PLUGINS__ENABLED: '["simulator", "trades", "candles", "dashboard"]',
        PLUGINS__SIMULATOR__TRADES_PER_SECOND: '50',
      },
    })
    browser = await launch()
    page = await browser.context.newPage()
    errors = new PageErrors(page)
  })

  afterAll(async () => {
    await browser?.close()
    await backend?.close()
  })

  it('draws the candles of the seconds the server was down once it is back', async () => {
    await page.goto(`${backend.url}/?symbol=BTCUSDT&interval=1s`)
    const before = await chartWhen(page, (c) => c.loaded && c.candles.length >= 5, 'five 1s candles')
    expect(errors.errors).toEqual([])
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true))

    await backend.stop()
    const stoppedAt = Date.now()
    await page.locator('[data-testid="connection-banner"]').waitFor({ state: 'visible', timeout: 60_000 })
    await waitUntil(() => Date.now() - stoppedAt >= OUTAGE_MS, { timeoutMs: OUTAGE_MS + 1_000, what: 'the outage' })
    await backend.start()
    await page.locator('[data-testid="connection-banner"]').waitFor({ state: 'hidden', timeout: 90_000 })

    // Storage and chart agree, and the chart spans the outage with no window missing.
    const lastBefore = before.candles.at(-1)?.time as number
    const outageEnd = Math.floor(Date.now() / 1000)
    await waitUntil(() => differsFromRest(backend, page, '1s').then((d) => d === null), {
      timeoutMs: 60_000,
      what: '1s chart equal to storage after the outage',
    })
    const after = await chartWhen(page, (c) => (c.candles.at(-1)?.time ?? 0) > outageEnd, 'candles after the outage')
    const spanned = after.candles.filter((c) => c.time > lastBefore && c.time < outageEnd)
    expect(spanned.length).toBeGreaterThanOrEqual(Math.floor(OUTAGE_MS / 1000))
    const flat = spanned.filter((c) => c.open === c.close && c.high === c.low)
    expect(flat.length).toBeGreaterThan(0) // windows without trades: flat candles at the previous close
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true)
    expect(errors.unexpected()).toEqual([])
    const drawn = (await chart(page)) as ChartSnapshot
    expect(drawn.candles.length).toBeGreaterThan(before.candles.length)
  })
})

// The dashboard in Chromium, served by a real `cryptoviz serve` that replays a recorded
// Binance session at its own pace; no part of the backend is simulated.

import type { Page, Response } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Backend, replayEnv, requireBackend } from '../tests/support/backend'
import { waitUntil } from '../tests/support/wait'
import { launch, PageErrors, type Browser } from './support/browser'
import { differsFromRest, formingCandleMoves } from './support/checks'
import { candlePixels, chart, chartWhen, contiguous, screenshot, type ChartSnapshot } from './support/page'

describe.runIf(requireBackend())('dashboard in Chromium', () => {
  let backend: Backend
  let browser: Browser
  let page: Page
  let errors: PageErrors

  beforeAll(async () => {
    backend = await Backend.start({ env: replayEnv(1) })
    browser = await launch()
    page = await browser.context.newPage()
    errors = new PageErrors(page)
  })

  afterAll(async () => {
    await browser?.close()
    await backend?.close()
  })

  it('loads without console errors and draws the replay as candles, indicators, trades and news', async () => {
    const started = Date.now()
    await page.goto(`${backend.url}/?symbol=BTCUSDT&interval=1s`)
    await page.locator('[data-testid="realtime-panel"] .indicator.connected').waitFor({ timeout: 60_000 })
    const drawn = await chartWhen(page, (c) => c.loaded && c.candles.length >= 5, 'five 1s candles drawn')
    console.log(`first five candles drawn ${Date.now() - started} ms after navigation`)
    expect(drawn.symbol).toBe('BTCUSDT')
    expect(
      contiguous(
        drawn.candles.map((c) => c.time),
        1,
      ),
    ).toBe(true)
    await waitUntil(async () => (await candlePixels(page)) > 100, { what: 'candle colours on the canvas' })

    await page.locator('[data-testid="trade-tape"] li.row').first().waitFor({ timeout: 60_000 })
    await page.locator('[data-testid="news-feed"] a.title').first().waitFor({ timeout: 60_000 })
    await expect
      .poll(() => page.locator('[data-testid="latest-price"]').textContent(), { timeout: 30_000 })
      .toMatch(/^[\d,]+\.\d+$/)
    // Indicators need their warm-up candles (MACD: 26 + 9) before the first point.
    await chartWhen(
      page,
      (c) => Object.values(c.indicators).every((n) => n > 0),
      'all four indicator panes drawn',
      180_000,
    )
    expect(await page.locator('[data-testid="symbol-picker"]').inputValue()).toBe('BTCUSDT')
    expect(errors.errors).toEqual([])
    console.log(`screenshot: ${await screenshot(page, 'dashboard-1280x800.png')}`)
  })

  it('reloads history when the interval changes, then keeps the forming candle moving', async () => {
    const history = page.waitForResponse(
      (r: Response) => r.url().includes('/api/v1/crypto/BTCUSDT/data') && r.url().includes('interval=1m'),
    )
    await page.locator('[data-testid="interval-selector"] button[data-interval="1m"]').click()
    expect((await history).status()).toBe(200)
    await chartWhen(page, (c) => c.interval === '1m' && c.loaded && c.candles.length > 0, '1m history drawn')
    expect(page.url()).toContain('interval=1m')
    await waitUntil(() => differsFromRest(backend, page, '1m').then((d) => d === null), {
      what: 'the 1m chart equal to the stored candles',
    })
    await formingCandleMoves(page, 60_000)
    expect(errors.errors).toEqual([])
  })

  it('fits a phone screen', async () => {
    const phone = await browser.context.newPage()
    const phoneErrors = new PageErrors(phone)
    try {
      await phone.setViewportSize({ width: 390, height: 844 })
      await phone.goto(`${backend.url}/?symbol=BTCUSDT&interval=1m`)
      await chartWhen(phone, (c) => c.loaded && c.candles.length > 0, 'chart on the phone')
      await phone.locator('[data-testid="trade-tape"] li.row').first().waitFor({ timeout: 60_000 })
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      expect(overflow).toBeLessThanOrEqual(0)
      const box = await phone.locator('[data-testid="chart"]').boundingBox()
      expect(box?.width).toBeGreaterThan(300)
      expect(box?.height).toBeGreaterThan(300)
      expect(phoneErrors.errors).toEqual([])
      console.log(`screenshot: ${await screenshot(phone, 'dashboard-390x844.png')}`)
    } finally {
      await phone.close()
    }
  })

  it('shows a banner while the backend is down and recovers without a reload or a missing candle', async () => {
    const before = await chartWhen(page, (c) => c.interval === '1m' && c.candles.length > 0, '1m chart before the stop')
    // A mark that only survives if the page is never reloaded.
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true))

    const stopping = Date.now()
    await backend.stop()
    const banner = page.locator('[data-testid="connection-banner"]')
    await banner.waitFor({ state: 'visible', timeout: 60_000 })
    console.log(`banner shown ${Date.now() - stopping} ms after the stop began`)
    expect(await page.locator('[data-testid="realtime-panel"] .indicator.disconnected').count()).toBe(1)
    await expect.poll(() => banner.textContent(), { timeout: 30_000 }).toMatch(/Retrying in \d+s/)
    console.log(`screenshot: ${await screenshot(page, 'dashboard-backend-down-1280x800.png')}`)

    const restarting = Date.now()
    await backend.start()
    const ready = Date.now()
    await banner.waitFor({ state: 'hidden', timeout: 90_000 })
    console.log(
      `server ready ${ready - restarting} ms after the restart began; banner gone ${Date.now() - ready} ms later`,
    )
    await page.locator('[data-testid="realtime-panel"] .indicator.connected').waitFor({ timeout: 30_000 })
    await waitUntil(() => differsFromRest(backend, page, '1m').then((d) => d === null), {
      timeoutMs: 60_000,
      what: 'the 1m chart equal to the stored candles after the restart',
    })
    console.log(`chart equal to storage ${Date.now() - ready} ms after the server was ready`)
    const after = (await chart(page)) as ChartSnapshot
    expect(after.candles[0]?.time).toBeLessThanOrEqual(before.candles[0]?.time as number)
    // The replay starts again from its first trade and counts nothing twice, so live updates
    // resume once it has caught up with where it stopped.
    await formingCandleMoves(page, 240_000)
    console.log(`live candle updates again ${Date.now() - ready} ms after the server was ready`)
    await waitUntil(() => differsFromRest(backend, page, '1m').then((d) => d === null), {
      what: '1m chart still equal to storage',
    })

    await page.locator('[data-testid="interval-selector"] button[data-interval="1s"]').click()
    await waitUntil(() => differsFromRest(backend, page, '1s').then((d) => d === null), {
      what: 'the 1s chart equal to storage',
    })
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true)
    expect(errors.unexpected()).toEqual([])
  })
})

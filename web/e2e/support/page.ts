// Reading the dashboard from a test: what the chart draws and what the page shows.

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { REPO } from '../../tests/support/backend'
import { waitUntil } from '../../tests/support/wait'

export const SCREENSHOTS = process.env.CRYPTOVIZ_SCREENSHOTS ?? join(REPO, 'tests', 'artifacts', 'web')

export interface DrawnCandle {
  time: number
  open: number
  high: number
  low: number
  close: number
}

export interface ChartSnapshot {
  symbol: string | null
  interval: string
  loaded: boolean
  candles: DrawnCandle[]
  volume: number[]
  indicators: Record<'rsi' | 'macd' | 'bollinger' | 'momentum', number>
}

export interface RestCandle {
  time: string
  open: number
  high: number
  low: number
  close: number
  closed: boolean
}

export async function chart(page: Page): Promise<ChartSnapshot | null> {
  return page.evaluate(
    () => (window as unknown as { cryptoviz?: { chart(): unknown } }).cryptoviz?.chart() ?? null,
  ) as Promise<ChartSnapshot | null>
}

/** Waits for the chart to satisfy `condition` and returns that snapshot. */
export async function chartWhen(
  page: Page,
  condition: (c: ChartSnapshot) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<ChartSnapshot> {
  let last: ChartSnapshot | null = null
  return waitUntil(
    async () => {
      last = await chart(page)
      return last && condition(last) ? last : null
    },
    {
      timeoutMs,
      intervalMs: 100,
      what: () =>
        `${what}; chart: ${last ? `${last.interval}, ${last.candles.length} candles, loaded ${last.loaded}` : 'none'}`,
    },
  )
}

/** Pixels of the chart canvases in the candle colours: proof of drawing, not just of data. */
export async function candlePixels(page: Page): Promise<number> {
  return page.evaluate(() => {
    const style = getComputedStyle(document.documentElement)
    const hex = (name: string): number[] => {
      const v = style.getPropertyValue(name).trim().replace('#', '')
      return [0, 2, 4].map((i) => parseInt(v.slice(i, i + 2), 16))
    }
    const colours = [hex('--accent-green'), hex('--accent-red')]
    let count = 0
    for (const canvas of document.querySelectorAll<HTMLCanvasElement>('[data-testid="chart"] canvas')) {
      const ctx = canvas.getContext('2d')
      if (!ctx || canvas.width === 0 || canvas.height === 0) continue
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height)
      for (let i = 0; i < data.length; i += 4) {
        for (const [r, g, b] of colours) {
          if (
            Math.abs((data[i] as number) - (r as number)) < 8 &&
            Math.abs((data[i + 1] as number) - (g as number)) < 8 &&
            Math.abs((data[i + 2] as number) - (b as number)) < 8
          ) {
            count++
          }
        }
      }
    }
    return count
  })
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  const path = join(SCREENSHOTS, name)
  await page.screenshot({ path, fullPage: true })
  return path
}

/** Candle open times of a REST page, in epoch seconds. */
export function restTimes(candles: RestCandle[]): number[] {
  return candles.map((c) => Date.parse(c.time) / 1000)
}

/** Every window from the first candle to the last is there, `step` seconds apart. */
export function contiguous(times: number[], step: number): boolean {
  return times.every((t, i) => i === 0 || t - (times[i - 1] as number) === step)
}

// Debian's Chromium driven by playwright-core, with a fresh profile for every run.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

export interface Browser {
  context: BrowserContext
  close(): Promise<void>
}

export async function launch(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'cryptoviz-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 800 },
  })
  return {
    context,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

/** Console errors and uncaught exceptions of a page, as they happen. */
export class PageErrors {
  readonly errors: string[] = []

  constructor(page: Page) {
    page.on('console', (msg: ConsoleMessage) => {
      if (msg.type() === 'error') this.errors.push(`console: ${msg.text()} (${msg.location().url})`)
    })
    page.on('pageerror', (err) => this.errors.push(`uncaught: ${err.message}`))
  }

  /** What is left once the errors a dead server causes are set aside (failed loads and
   *  WebSocket handshakes: the browser logs those itself). */
  unexpected(): string[] {
    return this.errors.filter(
      (e) => !/^console: (Failed to load resource: net::ERR_|WebSocket connection to '[^']+' failed)/.test(e),
    )
  }
}

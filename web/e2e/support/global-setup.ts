// Before the end-to-end run: the dashboard the appliance serves must be built from the
// current sources, and a Chromium must be there to drive.

import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { REPO } from '../../tests/support/backend'
import { CHROMIUM } from './browser'

export default function setup(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`)
  }
  const python = process.env.PYTHON ?? 'python3'
  const built = spawnSync(python, [join(REPO, 'scripts', 'web_assets.py'), '--if-stale'], { stdio: 'inherit' })
  if (built.status !== 0) throw new Error('building the dashboard failed (scripts/web_assets.py)')
}

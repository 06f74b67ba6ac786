// A real `cryptoviz serve` for tests: a free loopback port, a fresh database in a temporary
// folder, configured through CRYPTOVIZ_* variables; stopped and started again at will.

import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { waitUntil } from './wait'

const WEB = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const REPO = resolve(WEB, '..')
export const CLI = process.env.CRYPTOVIZ_BIN ?? join(REPO, '.venv', 'bin', 'cryptoviz')
export const TESTDATA = process.env.CRYPTOVIZ_TESTDATA ?? resolve(REPO, '..', 'shared', 'data')
export const RECORDING = join(TESTDATA, 'binance', 'usdm-btcusdt-20240808.recv.gz')
export const NEWS_FEEDS = [join(TESTDATA, 'news', 'coindesk.rss'), join(TESTDATA, 'news', 'cointelegraph.rss')]

const READY_MS = 90_000
const STOP_MS = 30_000

/** Why the real-backend tests cannot run here, or null. In CI that is a failure, not a skip. */
export function backendMissing(): string | null {
  if (!existsSync(CLI)) return `no cryptoviz command at ${CLI}: run \`make\` first or set CRYPTOVIZ_BIN`
  if (!existsSync(RECORDING)) return `no recording at ${RECORDING}: set CRYPTOVIZ_TESTDATA`
  return null
}

export function requireBackend(): boolean {
  const missing = backendMissing()
  if (missing && process.env.CI === 'true') throw new Error(missing)
  if (missing) console.warn(`skipping real-backend tests: ${missing}`)
  return missing === null
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      )
    })
  })
}

/** A replay of the recording at the recording's own pace, looping, with indicators, the
 *  news of two local feeds and the dashboard. */
export function replayEnv(speed = 1): Record<string, string> {
  return {
    PLUGINS__ENABLED: '["replay", "trades", "candles", "indicators", "news", "dashboard"]',
    PLUGINS__REPLAY__FILES: JSON.stringify([RECORDING]),
    PLUGINS__REPLAY__SPEED: String(speed),
    PLUGINS__REPLAY__LOOP: 'true',
    PLUGINS__NEWS__FEEDS: JSON.stringify(NEWS_FEEDS),
    PLUGINS__NEWS__POLL_SECONDS: '3600',
  }
}

export interface BackendOptions {
  /** CRYPTOVIZ_* overrides without the prefix, e.g. { PLUGINS__ENABLED: '[...]' }. */
  env: Record<string, string>
  demo?: boolean
}

export class Backend {
  readonly dir = mkdtempSync(join(tmpdir(), 'cryptoviz-web-'))
  private proc: ChildProcess | null = null
  private exited: Promise<void> = Promise.resolve()
  private runs = 0

  private constructor(
    readonly port: number,
    private readonly options: BackendOptions,
  ) {}

  static async start(options: BackendOptions): Promise<Backend> {
    const backend = new Backend(await freePort(), options)
    await backend.start()
    return backend
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws/crypto`
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null
  }

  /** Starts the server (again: same port, same database) and waits for /ready. */
  async start(): Promise<void> {
    if (this.running) throw new Error('backend already running')
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('CRYPTOVIZ_')),
    )
    env.CRYPTOVIZ_SERVER__PORT = String(this.port)
    env.CRYPTOVIZ_STORAGE__SQLITE_PATH = join(this.dir, 'cryptoviz.db')
    env.CRYPTOVIZ_LOG__LEVEL = 'info'
    for (const [key, value] of Object.entries(this.options.env)) env[`CRYPTOVIZ_${key}`] = value
    const log = openSync(this.logPath, 'a')
    this.runs++
    const proc = spawn(CLI, ['serve', ...(this.options.demo ? ['--demo'] : [])], {
      cwd: this.dir,
      env,
      stdio: ['ignore', log, log],
      detached: true, // its own process group, so a stop reaches the worker too
    })
    closeSync(log)
    this.proc = proc
    this.exited = new Promise((done) => proc.once('exit', () => done()))
    await waitUntil(
      async () => {
        if (!this.running)
          throw new Error(`cryptoviz serve exited (${proc.exitCode ?? proc.signalCode}):\n${this.log()}`)
        try {
          return (await fetch(`${this.url}/ready`)).status === 200
        } catch {
          return false
        }
      },
      { timeoutMs: READY_MS, what: () => `/ready of run ${this.runs}\n${this.log()}` },
    )
  }

  /** SIGTERM (a graceful stop), then SIGKILL for whatever is left of the group. */
  async stop(): Promise<void> {
    const proc = this.proc
    if (!proc?.pid) return
    this.proc = null
    if (proc.exitCode === null && proc.signalCode === null) {
      signalGroup(proc.pid, 'SIGTERM')
      const timedOut = await Promise.race([this.exited.then(() => false), sleep(STOP_MS).then(() => true)])
      if (timedOut) console.warn(`cryptoviz serve ignored SIGTERM for ${STOP_MS} ms; killed`)
    }
    signalGroup(proc.pid, 'SIGKILL')
    await Promise.race([this.exited, sleep(5_000)])
    // The server's worker processes may outlive the main one for a moment: stopped means
    // nothing answers on the port any more.
    await waitUntil(() => refused(this.port), { timeoutMs: STOP_MS, what: `port ${this.port} to close` })
  }

  /** Stops the server and removes its folder (database and log). */
  async close(): Promise<void> {
    await this.stop()
    rmSync(this.dir, { recursive: true, force: true })
  }

  get logPath(): string {
    return join(this.dir, 'serve.log')
  }

  log(): string {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-40).join('\n')
    } catch {
      return ''
    }
  }

  async getJSON<T>(path: string): Promise<T> {
    const response = await fetch(`${this.url}${path}`)
    const body = (await response.json()) as { success: boolean; data: T }
    if (!response.ok || !body.success) throw new Error(`${path}: HTTP ${response.status} ${JSON.stringify(body)}`)
    return body.data
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      done(false)
    })
    socket.once('error', () => done(true))
  })
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // already gone
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms))
}

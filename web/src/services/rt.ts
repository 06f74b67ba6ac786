// The real-time client of /ws/crypto, with the realtime guide's API.
//
// Beyond the guide: once connect() is called it keeps a connection up for ever, retrying
// with jittered backoff; on every reconnect it subscribes again to what was asked, with
// `since_seq` where the hub allows it, so the hub sends what was missed in between.

import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff'
import { endpoints } from './config'
import {
  normalize,
  resumeStream,
  SeqBook,
  streamOf,
  streamOfReset,
  subKey,
  type Subscription,
  type SubscriptionType,
} from './streams'
import { OPEN, platformSocket, type SocketLike } from './transport'

export type { Subscription, SubscriptionType } from './streams'

export type MessageType =
  | 'candle'
  | 'trade'
  | 'indicator'
  | 'news'
  | 'subscribed'
  | 'unsubscribed'
  | 'subscriptions'
  | 'pong'
  | 'ping'
  | 'error'
  | 'lagged'
  | 'reset'

/** One document from the server: `seq` numbers data messages within their stream. */
export interface WSMessage<T = unknown> {
  type: MessageType | (string & {})
  data: T
  timestamp: number
  seq?: number
}

export type MessageHandler = (msg: WSMessage) => void

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting'

export interface ConnectionStatus {
  state: ConnectionState
  /** Failed attempts since the connection was last open. */
  attempt: number
  /** When the next attempt starts (epoch ms), while reconnecting. */
  nextRetryAt: number | null
  /** Connections opened so far: more than one means a reconnect happened. */
  opens: number
  lastError: string | null
}

export type SocketSource = (url: string) => SocketLike | Promise<SocketLike>

export interface RTOptions {
  url: string
  socket?: SocketSource
  backoff?: BackoffOptions
  /** A `ping` goes out when nothing was sent for this long. */
  heartbeatMs?: number
  /** Nothing received for this long: the connection is dead, open another. */
  staleMs?: number
  connectTimeoutMs?: number
}

type Timer = ReturnType<typeof setTimeout>
const MAX_OUTBOX = 32

export class RTClient {
  readonly url: string
  private readonly source: SocketSource
  private readonly backoff: BackoffOptions
  private readonly heartbeatMs: number
  private readonly staleMs: number
  private readonly connectTimeoutMs: number
  private readonly handlers = new Map<string, Set<MessageHandler>>()
  private readonly statusHandlers = new Set<(status: ConnectionStatus) => void>()
  private readonly wanted = new Map<string, Subscription>()
  private readonly seqs = new SeqBook()
  private readonly outbox: string[] = []
  private waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = []
  private socket: SocketLike | null = null
  private attemptId = 0
  private running = false
  private retryTimer: Timer | null = null
  private connectTimer: Timer | null = null
  private watchTimer: ReturnType<typeof setInterval> | null = null
  private lastReceived = 0
  private lastSent = 0
  private current: ConnectionStatus = { state: 'idle', attempt: 0, nextRetryAt: null, opens: 0, lastError: null }

  constructor(options: RTOptions) {
    this.url = options.url
    this.source = options.socket ?? platformSocket
    this.backoff = options.backoff ?? DEFAULT_BACKOFF
    this.heartbeatMs = options.heartbeatMs ?? 20_000
    this.staleMs = options.staleMs ?? 65_000
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000
  }

  /** Resolves once connected; rejects if the attempt under way fails. Retries go on
   *  regardless until `close()`, and calling it while waiting retries at once. */
  connect(): Promise<void> {
    if (this.current.state === 'open') return Promise.resolve()
    const promise = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }))
    if (!this.running) {
      this.running = true
      addEventListener_('online', this.retryNow)
    }
    if (this.current.state !== 'connecting') this.open()
    return promise
  }

  /** Skip the wait before the next attempt (a "retry now" button, the browser going online). */
  readonly retryNow = (): void => {
    if (this.running && this.current.state === 'reconnecting') this.open()
  }

  subscribe(type: SubscriptionType, symbol: string, timeframe?: string): void {
    const sub = normalize(type, symbol, timeframe)
    this.wanted.set(subKey(sub), sub)
    this.sendIfOpen({ action: 'subscribe', ...sub })
  }

  unsubscribe(type: SubscriptionType, symbol: string, timeframe?: string): void {
    const sub = normalize(type, symbol, timeframe)
    if (!this.wanted.delete(subKey(sub))) return
    // A later subscribe starts afresh, not from where this one stopped.
    const stream = resumeStream(sub)
    if (stream && ![...this.wanted.values()].some((s) => resumeStream(s) === stream)) this.seqs.forget(stream)
    this.sendIfOpen({ action: 'unsubscribe', ...sub })
  }

  /** Asks the server; the answer comes as a `subscriptions` message. */
  listSubscriptions(): void {
    this.sendAction({ action: 'list_subscriptions' })
  }

  /** Asks the server; the answer comes as a `pong` message. */
  ping(): void {
    this.sendAction({ action: 'ping' })
  }

  /** Calls `handler` for every message of `type`; returns the function that removes it. */
  on(type: MessageType | (string & {}), handler: MessageHandler): () => void {
    let set = this.handlers.get(type)
    if (!set) this.handlers.set(type, (set = new Set()))
    set.add(handler)
    return () => {
      set.delete(handler)
    }
  }

  /** Connection state changes; called at once with the current state. */
  onStatus(handler: (status: ConnectionStatus) => void): () => void {
    this.statusHandlers.add(handler)
    handler(this.current)
    return () => {
      this.statusHandlers.delete(handler)
    }
  }

  get status(): ConnectionStatus {
    return this.current
  }

  /** The subscriptions this client holds (and renews on every reconnect). */
  subscriptions(): Subscription[] {
    return [...this.wanted.values()]
  }

  /** Closes the connection and stops retrying; subscriptions and handlers are kept. */
  close(): void {
    this.running = false
    removeEventListener_('online', this.retryNow)
    this.clearTimers()
    this.attemptId++
    const socket = this.socket
    this.socket = null
    if (socket) detachAndClose(socket, 1000, 'client closed')
    this.rejectWaiters('disconnected')
    this.setStatus({ state: 'idle', nextRetryAt: null })
  }

  // -- connection ----------------------------------------------------------------------

  private open(): void {
    this.clearTimers()
    const id = ++this.attemptId
    this.setStatus({ state: 'connecting', nextRetryAt: null })
    Promise.resolve()
      .then(() => this.source(this.url))
      .then(
        (socket) => {
          if (id !== this.attemptId) detachAndClose(socket, 1000, 'superseded')
          else this.attach(socket, id)
        },
        (err: unknown) => {
          if (id === this.attemptId) this.lost(errorText(err))
        },
      )
  }

  private attach(socket: SocketLike, id: number): void {
    this.socket = socket
    this.connectTimer = setTimeout(() => {
      if (id === this.attemptId && socket.readyState !== OPEN) this.drop(socket, 'connection timed out')
    }, this.connectTimeoutMs)
    socket.onopen = () => {
      if (id === this.attemptId) this.opened()
    }
    socket.onmessage = (ev) => {
      if (id === this.attemptId) this.received(ev.data)
    }
    socket.onclose = (ev) => {
      if (id === this.attemptId) this.lost(closeReason(ev.code, ev.reason))
    }
    socket.onerror = () => {
      // A close event follows every error; that is where the retry starts.
    }
  }

  private opened(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer)
    this.connectTimer = null
    this.lastReceived = Date.now()
    this.setStatus({ state: 'open', attempt: 0, nextRetryAt: null, opens: this.current.opens + 1, lastError: null })
    for (const sub of this.wanted.values()) {
      const stream = resumeStream(sub)
      const since = stream ? this.seqs.get(stream) : undefined
      this.send(
        since === undefined ? { action: 'subscribe', ...sub } : { action: 'subscribe', ...sub, since_seq: since },
      )
    }
    for (const text of this.outbox.splice(0)) this.sendText(text)
    this.watchTimer = setInterval(this.watch, Math.min(1000, this.heartbeatMs / 2))
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w.resolve()
  }

  /** Heartbeat: ping when quiet, and give up on a connection that went silent. */
  private readonly watch = (): void => {
    const socket = this.socket
    if (!socket || this.current.state !== 'open') return
    const now = Date.now()
    if (now - this.lastReceived > this.staleMs) {
      this.drop(socket, `no message from the server for ${Math.round(this.staleMs / 1000)}s`)
    } else if (now - this.lastSent >= this.heartbeatMs) {
      this.send({ action: 'ping' })
    }
  }

  private drop(socket: SocketLike, reason: string): void {
    detachAndClose(socket, 4000, reason)
    this.lost(reason)
  }

  private lost(reason: string): void {
    this.socket = null
    this.attemptId++
    this.clearTimers()
    this.rejectWaiters(reason)
    if (!this.running) {
      this.setStatus({ state: 'idle', nextRetryAt: null, lastError: reason })
      return
    }
    const attempt = this.current.attempt + 1
    const delay = backoffDelay(attempt, this.backoff)
    this.setStatus({ state: 'reconnecting', attempt, nextRetryAt: Date.now() + delay, lastError: reason })
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      if (this.running) this.open()
    }, delay)
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer)
    if (this.connectTimer) clearTimeout(this.connectTimer)
    if (this.watchTimer) clearInterval(this.watchTimer)
    this.retryTimer = this.connectTimer = this.watchTimer = null
  }

  private rejectWaiters(reason: string): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w.reject(new Error(`WebSocket ${this.url}: ${reason}`))
  }

  private setStatus(change: Partial<ConnectionStatus>): void {
    this.current = { ...this.current, ...change }
    for (const handler of [...this.statusHandlers]) safely(handler, this.current)
  }

  // -- messages ------------------------------------------------------------------------

  private received(raw: unknown): void {
    this.lastReceived = Date.now()
    if (typeof raw !== 'string') return // the hub sends text frames only
    let msg: unknown
    try {
      msg = JSON.parse(raw)
    } catch {
      return
    }
    if (!isMessage(msg)) return
    if (msg.type === 'reset') {
      const stream = streamOfReset(msg.data)
      if (stream) this.seqs.forget(stream)
    } else if (typeof msg.seq === 'number') {
      const stream = streamOf(msg)
      if (stream) this.seqs.see(stream, msg.seq)
    }
    const set = this.handlers.get(msg.type)
    if (set) for (const handler of [...set]) safely(handler, msg)
  }

  private sendIfOpen(body: object): void {
    if (this.current.state === 'open') this.send(body)
  }

  /** One-shot actions wait for the connection (a few at most). */
  private sendAction(body: object): void {
    if (this.current.state === 'open') this.send(body)
    else if (this.outbox.length < MAX_OUTBOX) this.outbox.push(JSON.stringify(body))
  }

  private send(body: object): void {
    this.sendText(JSON.stringify(body))
  }

  private sendText(text: string): void {
    const socket = this.socket
    if (!socket || socket.readyState !== OPEN) return
    try {
      socket.send(text)
      this.lastSent = Date.now()
    } catch (err) {
      this.drop(socket, errorText(err))
    }
  }
}

function isMessage(value: unknown): value is WSMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
}

function safely<T>(handler: (value: T) => void, value: T): void {
  try {
    handler(value)
  } catch (err) {
    // One failing handler must not starve the others; the error still surfaces.
    setTimeout(() => {
      throw err
    })
  }
}

function detachAndClose(socket: SocketLike, code: number, reason: string): void {
  socket.onopen = socket.onmessage = socket.onclose = null
  socket.onerror = () => {} // a late error of a dropped socket is expected, not news
  try {
    socket.close(code, reason.slice(0, 120))
  } catch {
    // already closed
  }
}

/** A close code in words; 1006 is what a refused or dropped connection looks like. */
function closeReason(code: number, reason: string): string {
  if (code === 1006) return 'no answer from the server'
  if (code === 1001) return 'the server is shutting down'
  return `connection closed (${code}${reason ? `: ${reason}` : ''})`
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function addEventListener_(type: string, listener: () => void): void {
  if (typeof window !== 'undefined') window.addEventListener(type, listener)
}

function removeEventListener_(type: string, listener: () => void): void {
  if (typeof window !== 'undefined') window.removeEventListener(type, listener)
}

// -- the page's one client ---------------------------------------------------------------

let shared: RTClient | null = null

/** The page's client, made on first use from VITE_WS_URL (or the page's origin) and
 *  VITE_USE_MOCK (a local mock stream instead of the server). */
export function getRTClient(): RTClient {
  if (!shared) {
    const config = endpoints()
    const socket: SocketSource = config.useMock
      ? (url) => import('./mock/socket').then((m) => m.createMockSocket(url))
      : platformSocket
    shared = new RTClient({ url: config.wsUrl, socket })
  }
  return shared
}

/** Closes the page's client; the next getRTClient() makes a new one. */
export function disconnectRT(): void {
  shared?.close()
  shared = null
}

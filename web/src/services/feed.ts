// One live subscription kept in step with its REST history.
//
// Subscribes first, then loads history, so nothing published in between is missed (both
// end up in the same book, where the newer copy wins). History is loaded again after every
// reconnect and on a `reset`, the two moments when live messages may have been missed, and
// a failed load is retried until it succeeds or the feed stops.

import { backoffDelay, DEFAULT_BACKOFF } from './backoff'
import type { MessageType, RTClient, WSMessage } from './rt'
import { normalize, subKey, type SubscriptionType } from './streams'

export interface FeedSpec {
  type: SubscriptionType
  symbol: string
  timeframe?: string
  /** The live message type this feed takes (`candle`, `trade`, ...). */
  message: MessageType
  /** Whether a live message belongs to this feed (a wildcard or shared type sees others). */
  accepts(msg: WSMessage): boolean
  live(msg: WSMessage): void
  /** Loads history into the owner's book; absent for live-only feeds. */
  load?(signal: AbortSignal): Promise<void>
  /** Told when loading fails (and will be retried) or succeeds again. */
  loadState?(error: Error | null): void
}

export class Feed {
  private offs: Array<() => void> = []
  private loader: AbortController | null = null
  private retry: ReturnType<typeof setTimeout> | null = null
  private failures = 0
  private seenOpens = 0
  private stopped = false

  constructor(
    private readonly rt: RTClient,
    private readonly spec: FeedSpec,
  ) {}

  start(): void {
    const { rt, spec } = this
    const key = subKey(normalize(spec.type, spec.symbol, spec.timeframe))
    this.seenOpens = rt.status.opens
    this.offs.push(
      rt.on(spec.message, (msg) => {
        if (spec.accepts(msg)) spec.live(msg)
      }),
      rt.on('reset', (msg) => {
        const d = msg.data as { type?: string; symbol?: string; timeframe?: string | null }
        if (
          d.type &&
          d.symbol &&
          subKey(normalize(d.type as SubscriptionType, d.symbol, d.timeframe ?? undefined)) === key
        ) {
          this.reload()
        }
      }),
      rt.onStatus((status) => {
        if (status.state === 'open' && status.opens > this.seenOpens) {
          this.seenOpens = status.opens
          this.reload()
        }
      }),
    )
    rt.subscribe(spec.type, spec.symbol, spec.timeframe)
    this.reload()
  }

  stop(): void {
    this.stopped = true
    for (const off of this.offs) off()
    this.offs = []
    this.cancel()
    this.rt.unsubscribe(this.spec.type, this.spec.symbol, this.spec.timeframe)
  }

  /** Load history again now (also what a detected hole in the series calls). */
  reload(): void {
    const load = this.spec.load
    if (this.stopped || !load) return
    this.cancel()
    const controller = (this.loader = new AbortController())
    load(controller.signal).then(
      () => {
        if (controller !== this.loader) return
        this.loader = null
        this.failures = 0
        this.spec.loadState?.(null)
      },
      (err: unknown) => {
        if (controller !== this.loader || controller.signal.aborted) return
        this.loader = null
        this.failures++
        this.spec.loadState?.(err instanceof Error ? err : new Error(String(err)))
        this.retry = setTimeout(() => this.reload(), backoffDelay(this.failures, DEFAULT_BACKOFF))
      },
    )
  }

  private cancel(): void {
    this.loader?.abort()
    this.loader = null
    if (this.retry) clearTimeout(this.retry)
    this.retry = null
  }
}

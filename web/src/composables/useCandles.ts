// The candles of the selected symbol and interval: REST history plus live updates, with
// holes healed from REST, since the appliance's series has none.

import { onScopeDispose, ref, shallowRef, watch, type Ref, type ShallowRef } from 'vue'
import { fetchCandles } from '@/services/api'
import { Feed } from '@/services/feed'
import { getRTClient } from '@/services/rt'
import { INTERVAL_SECONDS, type Interval, type LiveCandle } from '@/services/types'
import { candleBook, toBar, type Bar } from '@/lib/bars'
import { Emitter } from '@/lib/emitter'
import { gaps, type Change, type SeriesBook } from '@/lib/seriesBook'

export const HISTORY_CANDLES = 500
const HEAL_TRIES = 5
const HEAL_PAUSE_MS = 1500

export interface CandleModel {
  book: ShallowRef<SeriesBook<Bar>>
  changes: Emitter<Change>
  last: ShallowRef<Bar | null>
  /** History has arrived for the current selection. */
  loaded: Ref<boolean>
  error: Ref<string | null>
}

export function useCandles(symbol: Ref<string | null>, interval: Ref<Interval>): CandleModel {
  const rt = getRTClient()
  const changes = new Emitter<Change>()
  const book = shallowRef(candleBook())
  const last = shallowRef<Bar | null>(null)
  const loaded = ref(false)
  const error = ref<string | null>(null)
  let feed: Feed | null = null
  let healer: Healer | null = null

  function apply(change: Change): void {
    if (change === 'none') return
    last.value = book.value.last ?? null
    changes.emit(change)
  }

  function start(sym: string | null, tf: Interval): void {
    feed?.stop()
    healer?.stop()
    feed = healer = null
    const current = candleBook()
    book.value = current
    last.value = null
    loaded.value = false
    error.value = null
    changes.emit('reset')
    if (!sym) return
    const step = INTERVAL_SECONDS[tf]
    const heal = new Healer(current, step, () => feed?.reload())
    healer = heal
    feed = new Feed(rt, {
      type: 'candles',
      symbol: sym,
      timeframe: tf,
      message: 'candle',
      accepts: (msg) => {
        const d = msg.data as LiveCandle
        return d.symbol === sym && d.timeframe === tf
      },
      live: (msg) => {
        const bar = toBar(msg.data as LiveCandle)
        const prev = current.last
        apply(current.upsert(bar))
        if (loaded.value && prev && bar.time - prev.time > step) heal.check()
      },
      load: async (signal) => {
        const bars = (await fetchCandles(sym, tf, { limit: HISTORY_CANDLES }, signal)).map(toBar)
        signal.throwIfAborted() // the selection changed while the answer was on its way
        const held = current.last
        const first = bars[0]
        // History that does not reach what is held (a long outage): start over from it.
        if (first && held && first.time > held.time + step) current.clear()
        apply(current.merge(bars))
        loaded.value = true
        heal.check()
      },
      loadState: (err) => {
        error.value = err ? err.message : null
      },
    })
    feed.start()
  }

  watch([symbol, interval], ([sym, tf]) => start(sym, tf), { immediate: true })
  onScopeDispose(() => {
    feed?.stop()
    healer?.stop()
  })
  return { book, changes, last, loaded, error }
}

/** Reloads history while the recent part of the series has a hole, a few times per hole:
 *  a candle may reach the chart live before storage has its neighbours. */
class Healer {
  private hole = ''
  private tries = 0
  private timer: ReturnType<typeof setTimeout> | null = null

  constructor(
    private readonly book: SeriesBook<Bar>,
    private readonly step: number,
    private readonly reload: () => void,
  ) {}

  check(): void {
    const newest = this.book.last?.time ?? 0
    const horizon = newest - (HISTORY_CANDLES - 1) * this.step
    const hole = gaps(this.book.items, this.step).find(([from]) => from >= horizon)
    if (!hole) {
      this.hole = ''
      this.tries = 0
      return
    }
    const key = hole.join('-')
    if (key !== this.hole) {
      this.hole = key
      this.tries = 0
    }
    if (this.tries >= HEAL_TRIES || this.timer) return
    this.tries++
    this.timer = setTimeout(
      () => {
        this.timer = null
        this.reload()
      },
      this.tries === 1 ? 0 : HEAL_PAUSE_MS,
    )
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}

// RSI, MACD, Bollinger and Momentum of the selected symbol and interval: final points from
// REST, then live ones (provisional values of the forming candle replaced by the final).

import { onScopeDispose, shallowRef, watch, type Ref, type ShallowRef } from 'vue'
import { fetchIndicators } from '@/services/api'
import { Feed } from '@/services/feed'
import { getRTClient } from '@/services/rt'
import { INDICATOR_TYPES, type IndicatorType, type Interval, type LiveIndicator } from '@/services/types'
import { indicatorBook, toIndicatorBar, type IndicatorBar } from '@/lib/bars'
import { Emitter } from '@/lib/emitter'
import type { Change, SeriesBook } from '@/lib/seriesBook'
import { HISTORY_CANDLES } from './useCandles'

export type IndicatorBooks = Record<IndicatorType, SeriesBook<IndicatorBar>>

export interface IndicatorChange {
  type: IndicatorType
  change: Change
}

export interface IndicatorModel {
  books: ShallowRef<IndicatorBooks>
  changes: Emitter<IndicatorChange>
}

function freshBooks(): IndicatorBooks {
  return { rsi: indicatorBook(), macd: indicatorBook(), bollinger: indicatorBook(), momentum: indicatorBook() }
}

export function useIndicators(symbol: Ref<string | null>, interval: Ref<Interval>): IndicatorModel {
  const rt = getRTClient()
  const books = shallowRef(freshBooks())
  const changes = new Emitter<IndicatorChange>()
  let feed: Feed | null = null

  function apply(type: IndicatorType, change: Change): void {
    if (change !== 'none') changes.emit({ type, change })
  }

  function start(sym: string | null, tf: Interval): void {
    feed?.stop()
    feed = null
    const current = freshBooks()
    books.value = current
    for (const type of INDICATOR_TYPES) changes.emit({ type, change: 'reset' })
    if (!sym) return
    feed = new Feed(rt, {
      type: 'indicators',
      symbol: sym,
      timeframe: tf,
      message: 'indicator',
      accepts: (msg) => {
        const d = msg.data as LiveIndicator
        return d.symbol === sym && d.timeframe === tf && d.type in current
      },
      live: (msg) => {
        const d = msg.data as LiveIndicator
        apply(d.type, current[d.type].upsert(toIndicatorBar(d, d.final)))
      },
      load: async (signal) => {
        const pages = await Promise.all(
          INDICATOR_TYPES.map((type) => fetchIndicators(sym, type, tf, HISTORY_CANDLES, signal)),
        )
        signal.throwIfAborted()
        INDICATOR_TYPES.forEach((type, i) => {
          apply(type, current[type].merge((pages[i] ?? []).map((p) => toIndicatorBar(p))))
        })
      },
    })
    feed.start()
  }

  watch([symbol, interval], ([sym, tf]) => start(sym, tf), { immediate: true })
  onScopeDispose(() => feed?.stop())
  return { books, changes }
}

// The live trade tape of the selected symbol: the newest trades first, drawn at most once
// per animation frame however fast they arrive.

import { onScopeDispose, shallowRef, watch, type Ref, type ShallowRef } from 'vue'
import { Feed } from '@/services/feed'
import { getRTClient } from '@/services/rt'
import type { Trade } from '@/services/types'

export const TAPE_LENGTH = 50

export interface TradeModel {
  trades: ShallowRef<Trade[]>
  last: ShallowRef<Trade | null>
}

export function useTrades(symbol: Ref<string | null>): TradeModel {
  const rt = getRTClient()
  const trades = shallowRef<Trade[]>([])
  const last = shallowRef<Trade | null>(null)
  let pending: Trade[] = []
  let frame: number | null = null
  let feed: Feed | null = null

  function flush(): void {
    frame = null
    trades.value = [...pending.reverse(), ...trades.value].slice(0, TAPE_LENGTH)
    pending = []
  }

  function schedule(): void {
    if (frame !== null) return
    frame =
      typeof requestAnimationFrame === 'function'
        ? requestAnimationFrame(flush)
        : (setTimeout(flush, 16) as unknown as number)
  }

  function start(sym: string | null): void {
    feed?.stop()
    feed = null
    pending = []
    trades.value = []
    last.value = null
    if (!sym) return
    feed = new Feed(rt, {
      type: 'trades',
      symbol: sym,
      message: 'trade',
      accepts: (msg) => (msg.data as Trade).symbol === sym,
      live: (msg) => {
        const trade = msg.data as Trade
        pending.push(trade)
        if (pending.length > TAPE_LENGTH) pending.splice(0, pending.length - TAPE_LENGTH)
        last.value = trade
        schedule()
      },
    })
    feed.start()
  }

  watch(symbol, start, { immediate: true })
  onScopeDispose(() => {
    feed?.stop()
    if (frame !== null && typeof cancelAnimationFrame === 'function') cancelAnimationFrame(frame)
  })
  return { trades, last }
}

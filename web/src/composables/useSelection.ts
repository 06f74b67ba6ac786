// The chosen symbol and interval, kept in the page's URL so a reload or a shared link
// shows the same chart.

import { ref, watch, type ComputedRef, type Ref } from 'vue'
import { isInterval, type Interval, type SymbolInfo } from '@/services/types'

export interface Selection {
  symbol: Ref<string | null>
  interval: Ref<Interval>
}

const PREFERRED = 'BTCUSDT'

function readQuery(): { symbol: string | null; interval: Interval } {
  const params = new URLSearchParams(location.search)
  const symbol = params.get('symbol')?.toUpperCase() ?? null
  const interval = params.get('interval')
  return { symbol, interval: isInterval(interval) ? interval : '1m' }
}

export function useSelection(symbols: ComputedRef<SymbolInfo[]>): Selection {
  const initial = readQuery()
  const wanted = initial.symbol
  const symbol = ref<string | null>(null)
  const interval = ref<Interval>(initial.interval)

  // The symbol is chosen once the list is known: the one asked for if listed, else a default.
  watch(
    symbols,
    (list) => {
      if (list.length === 0 || (symbol.value && list.some((s) => s.symbol === symbol.value))) return
      const names = list.map((s) => s.symbol)
      symbol.value =
        wanted && names.includes(wanted) ? wanted : names.includes(PREFERRED) ? PREFERRED : (names[0] ?? null)
    },
    { immediate: true },
  )

  watch([symbol, interval], ([sym, tf]) => {
    const params = new URLSearchParams(location.search)
    if (sym) params.set('symbol', sym)
    params.set('interval', tf)
    history.replaceState(history.state, '', `${location.pathname}?${params.toString()}${location.hash}`)
  })
  return { symbol, interval }
}

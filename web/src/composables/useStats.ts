// 24 h statistics of the selected symbol (REST; the hub does not push them).

import { watch, type Ref, type ShallowRef } from 'vue'
import { ApiError, fetchStats } from '@/services/api'
import type { Stats } from '@/services/types'
import { usePolling } from './usePolling'

const STATS_EVERY_MS = 15_000

export function useStats(symbol: Ref<string | null>): ShallowRef<Stats | null> {
  const polled = usePolling(async (signal) => {
    const sym = symbol.value
    if (!sym) return null
    try {
      return await fetchStats(sym, signal)
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null // no trades stored yet
      throw err
    }
  }, STATS_EVERY_MS)
  watch(symbol, () => {
    polled.value.value = null
    polled.refresh()
  })
  return polled.value
}

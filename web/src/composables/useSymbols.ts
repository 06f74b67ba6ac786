// The symbols the appliance has data for; asked often while there are none yet.

import { computed, type ComputedRef, type Ref } from 'vue'
import { fetchSymbols } from '@/services/api'
import type { SymbolInfo } from '@/services/types'
import { usePolling } from './usePolling'

export interface SymbolsModel {
  symbols: ComputedRef<SymbolInfo[]>
  /** The list has been read at least once. */
  known: ComputedRef<boolean>
  error: Ref<string | null>
}

export function useSymbols(): SymbolsModel {
  const polled = usePolling(fetchSymbols, (list) => (list.length ? 30_000 : 1_000))
  const symbols = computed(() => [...(polled.value.value ?? [])].sort((a, b) => a.symbol.localeCompare(b.symbol)))
  const known = computed(() => polled.value.value !== null)
  return { symbols, known, error: polled.error }
}

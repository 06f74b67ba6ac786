// The real-time connection's state, as reactive values for the status panel and the banner.

import { computed, onScopeDispose, ref, shallowRef, watch, type ComputedRef, type ShallowRef } from 'vue'
import { getRTClient, type ConnectionStatus } from '@/services/rt'

export interface ConnectionModel {
  status: ShallowRef<ConnectionStatus>
  connected: ComputedRef<boolean>
  /** Seconds until the next attempt while reconnecting, else null. */
  retryIn: ComputedRef<number | null>
  retryNow: () => void
}

export function useConnection(): ConnectionModel {
  const rt = getRTClient()
  const status = shallowRef(rt.status)
  const now = ref(Date.now())
  let ticker: ReturnType<typeof setInterval> | null = null

  const off = rt.onStatus((s) => {
    status.value = s
  })
  // A clock for the countdown, only while there is one to show.
  watch(
    () => status.value.state,
    (state) => {
      if (state === 'reconnecting' && !ticker) ticker = setInterval(() => (now.value = Date.now()), 250)
      if (state !== 'reconnecting' && ticker) {
        clearInterval(ticker)
        ticker = null
      }
    },
    { immediate: true },
  )
  onScopeDispose(() => {
    off()
    if (ticker) clearInterval(ticker)
  })

  const connected = computed(() => status.value.state === 'open')
  const retryIn = computed(() => {
    const at = status.value.nextRetryAt
    return at === null ? null : Math.max(0, Math.ceil((at - now.value) / 1000))
  })
  return { status, connected, retryIn, retryNow: rt.retryNow }
}

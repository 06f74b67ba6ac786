// A REST resource read now, every `everyMs`, again after each reconnect, and sooner while
// it fails.

import { onScopeDispose, ref, shallowRef, type Ref, type ShallowRef } from 'vue'
import { backoffDelay, DEFAULT_BACKOFF } from '@/services/backoff'
import { getRTClient } from '@/services/rt'

export interface Polled<T> {
  value: ShallowRef<T | null>
  error: Ref<string | null>
  refresh: () => void
}

/** `everyMs` may depend on the last value (poll faster while there is nothing yet). */
export function usePolling<T>(
  load: (signal: AbortSignal) => Promise<T>,
  everyMs: number | ((value: T) => number),
): Polled<T> {
  const period = (v: T): number => (typeof everyMs === 'number' ? everyMs : everyMs(v))
  const value = shallowRef<T | null>(null) as ShallowRef<T | null>
  const error = ref<string | null>(null)
  let timer: ReturnType<typeof setTimeout> | null = null
  let controller: AbortController | null = null
  let failures = 0
  let stopped = false

  function refresh(): void {
    if (stopped) return
    if (timer) clearTimeout(timer)
    timer = null
    controller?.abort()
    const mine = (controller = new AbortController())
    load(mine.signal).then(
      (result) => {
        if (mine !== controller) return
        failures = 0
        value.value = result
        error.value = null
        timer = setTimeout(refresh, period(result))
      },
      (err: unknown) => {
        if (mine !== controller || mine.signal.aborted) return
        failures++
        error.value = err instanceof Error ? err.message : String(err)
        timer = setTimeout(refresh, backoffDelay(failures, DEFAULT_BACKOFF))
      },
    )
  }

  const rt = getRTClient()
  let opens = rt.status.opens
  const off = rt.onStatus((status) => {
    if (status.state === 'open' && status.opens > opens) {
      opens = status.opens
      refresh()
    }
  })
  refresh()
  onScopeDispose(() => {
    stopped = true
    off()
    controller?.abort()
    if (timer) clearTimeout(timer)
  })
  return { value, error, refresh }
}

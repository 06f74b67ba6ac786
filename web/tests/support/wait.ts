// Waiting for conditions, never for fixed times: a loaded machine only makes it slower.

export interface WaitOptions {
  timeoutMs?: number
  intervalMs?: number
  what?: string | (() => string)
}

/** Polls `condition` until it returns a truthy value, which is returned. */
export async function waitUntil<T>(
  condition: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 30_000, intervalMs = 50, what = 'condition' } = options
  const deadline = Date.now() + timeoutMs
  let lastError: unknown = null
  for (;;) {
    try {
      const value = await condition()
      if (value) return value as NonNullable<T>
      lastError = null
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('cryptoviz serve exited')) throw err
      lastError = err
    }
    if (Date.now() > deadline) {
      const label = typeof what === 'function' ? what() : what
      throw new Error(`not within ${timeoutMs} ms: ${label}${lastError ? `\nlast error: ${String(lastError)}` : ''}`)
    }
    await new Promise((done) => setTimeout(done, intervalMs))
  }
}

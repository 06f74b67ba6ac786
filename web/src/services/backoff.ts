// Capped exponential backoff with jitter: many clients of a restarted server spread out
// their reconnects instead of arriving all at once.

export interface BackoffOptions {
  baseMs: number
  capMs: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 10_000 }

/** Delay before retry number `attempt` (1-based): half fixed, half random ("equal jitter"),
 *  so a retry never comes back at once yet still spreads out. */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(opts.capMs, opts.baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(exp / 2 + random() * (exp / 2))
}

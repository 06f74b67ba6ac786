// Numbers and times as traders read them.

/** Enough decimals for the price's magnitude: 61,234.50, 2,601.37, 0.61234. */
export function priceDigits(price: number): number {
  const abs = Math.abs(price)
  if (abs >= 1000) return 2
  if (abs >= 1) return Math.min(4, 6 - Math.floor(Math.log10(abs)) - 1)
  if (abs === 0) return 2
  return Math.min(8, 4 - Math.floor(Math.log10(abs)))
}

const formatters = new Map<string, Intl.NumberFormat>()

function formatter(min: number, max: number, compact = false): Intl.NumberFormat {
  const key = `${min}|${max}|${compact}`
  let f = formatters.get(key)
  if (!f) {
    f = new Intl.NumberFormat('en-US', {
      minimumFractionDigits: min,
      maximumFractionDigits: max,
      ...(compact ? { notation: 'compact' as const } : {}),
    })
    formatters.set(key, f)
  }
  return f
}

export function formatPrice(price: number | null | undefined, digits?: number): string {
  if (price === null || price === undefined || !Number.isFinite(price)) return '—'
  const d = digits ?? priceDigits(price)
  return formatter(d, d).format(price)
}

export function formatQuantity(qty: number): string {
  if (qty >= 1000) return formatter(0, 2, true).format(qty)
  return formatter(0, qty >= 1 ? 3 : 6).format(qty)
}

export function formatVolume(volume: number | null | undefined): string {
  if (volume === null || volume === undefined || !Number.isFinite(volume)) return '—'
  return formatter(0, 2, volume >= 10_000).format(volume)
}

export function formatPercent(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—'
  const sign = value > 0 ? '+' : ''
  return `${sign}${formatter(2, 2).format(value)}%`
}

/** HH:MM:SS.mmm in UTC, the appliance's time. */
export function formatClock(iso: string): string {
  const ms = Date.parse(iso)
  if (!Number.isFinite(ms)) return ''
  return new Date(ms).toISOString().slice(11, 23)
}

/** "3 min ago", "2 h ago", or the date for older articles. */
export function formatAge(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso)
  if (!Number.isFinite(ms)) return ''
  const minutes = Math.floor((now - ms) / 60_000)
  if (minutes < 1) return 'just now'
  if (minutes < 60) return `${minutes} min ago`
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)} h ago`
  return new Date(ms).toISOString().slice(0, 10)
}

export type Mood = 'bullish' | 'bearish' | 'neutral'

/** VADER's usual thresholds on the compound score. */
export function mood(sentiment: number): Mood {
  if (sentiment >= 0.05) return 'bullish'
  if (sentiment <= -0.05) return 'bearish'
  return 'neutral'
}

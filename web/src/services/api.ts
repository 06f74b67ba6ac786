// The REST API (VITE_API_URL, by default the page's origin), envelopes unwrapped.

import { endpoints } from './config'
import type {
  Candle,
  CandlesPage,
  IndicatorPoint,
  IndicatorsPage,
  IndicatorType,
  Interval,
  NewsItem,
  Stats,
  SymbolInfo,
} from './types'

export type Query = Record<string, string | number | undefined>

/** A failed request: `status` 0 when the server could not be reached at all. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

interface Envelope<T> {
  success: boolean
  data?: T
  error?: { code: string; message: string }
}

const TIMEOUT_MS = 15_000

export async function request<T>(path: string, query: Query = {}, signal?: AbortSignal): Promise<T> {
  const config = endpoints()
  if (config.useMock) {
    const mock = await import('./mock/rest')
    return mock.mockRequest(path, query) as T
  }
  const url = new URL(config.apiUrl + path)
  for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value))
  const timeout = AbortSignal.timeout(TIMEOUT_MS)
  let response: Response
  try {
    response = await fetch(url, {
      signal: signal ? anySignal(signal, timeout) : timeout,
      headers: { accept: 'application/json' },
    })
  } catch (err) {
    if (signal?.aborted) throw err
    throw new ApiError(
      0,
      'unreachable',
      `cannot reach ${url.origin}: ${err instanceof Error ? err.message : String(err)}`,
    )
  }
  let body: Envelope<T>
  try {
    body = (await response.json()) as Envelope<T>
  } catch {
    throw new ApiError(response.status, 'bad_response', `${path}: HTTP ${response.status}, not JSON`)
  }
  if (!response.ok || !body.success || body.data === undefined) {
    throw new ApiError(
      response.status,
      body.error?.code ?? 'http_error',
      body.error?.message ?? `${path}: HTTP ${response.status}`,
    )
  }
  return body.data
}

function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  const controller = new AbortController()
  const abort = (): void => controller.abort()
  if (a.aborted || b.aborted) abort()
  a.addEventListener('abort', abort, { once: true })
  b.addEventListener('abort', abort, { once: true })
  return controller.signal
}

const path = (symbol: string): string => encodeURIComponent(symbol)

export function fetchSymbols(signal?: AbortSignal): Promise<SymbolInfo[]> {
  return request<SymbolInfo[]>('/api/v1/symbols', {}, signal)
}

export async function fetchCandles(
  symbol: string,
  interval: Interval,
  query: { limit?: number; start?: number; end?: number } = {},
  signal?: AbortSignal,
): Promise<Candle[]> {
  const page = await request<CandlesPage>(`/api/v1/crypto/${path(symbol)}/data`, { interval, ...query }, signal)
  return page.data
}

export async function fetchIndicators(
  symbol: string,
  type: IndicatorType,
  interval: Interval,
  limit: number,
  signal?: AbortSignal,
): Promise<IndicatorPoint[]> {
  const page = await request<IndicatorsPage>(`/api/v1/indicators/${path(symbol)}/${type}`, { interval, limit }, signal)
  return page.data
}

export function fetchStats(symbol: string, signal?: AbortSignal): Promise<Stats> {
  return request<Stats>(`/api/v1/stats/${path(symbol)}`, {}, signal)
}

export async function fetchNews(limit: number, symbol?: string, signal?: AbortSignal): Promise<NewsItem[]> {
  const route = symbol ? `/api/v1/news/${path(symbol)}` : '/api/v1/news'
  const page = await request<{ data: NewsItem[] }>(route, { limit }, signal)
  return page.data
}

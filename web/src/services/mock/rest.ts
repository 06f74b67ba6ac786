// The REST routes the dashboard reads, answered by the mock market.

import { ApiError, type Query } from '../api'
import { INDICATOR_TYPES, isInterval, type IndicatorType, type Interval } from '../types'
import { mockMarket } from './market'

function interval(query: Query): Interval {
  const value = query.interval ?? '1m'
  if (!isInterval(value)) throw new ApiError(400, 'invalid_interval', `invalid interval ${String(value)}`)
  return value
}

function limit(query: Query, fallback: number): number {
  return Math.max(1, Math.min(1000, Number(query.limit ?? fallback)))
}

export function mockRequest(path: string, query: Query): unknown {
  const market = mockMarket()
  const known = (symbol: string): string => {
    if (!market.symbols.includes(symbol)) throw new ApiError(404, 'unknown_symbol', `unknown symbol ${symbol}`)
    return symbol
  }
  let m: RegExpMatchArray | null
  if (path === '/api/v1/symbols') return market.symbolList()
  if ((m = path.match(/^\/api\/v1\/crypto\/([^/]+)\/data$/))) {
    const symbol = known(decodeURIComponent(m[1] as string))
    return { symbol, interval: interval(query), data: market.candles(symbol, interval(query), limit(query, 100)) }
  }
  if ((m = path.match(/^\/api\/v1\/indicators\/([^/]+)\/([^/]+)$/))) {
    const symbol = known(decodeURIComponent(m[1] as string))
    const type = m[2] as IndicatorType
    if (!INDICATOR_TYPES.includes(type)) throw new ApiError(400, 'invalid_type', `invalid type ${type}`)
    return {
      symbol,
      type,
      interval: interval(query),
      data: market.indicators(symbol, type, interval(query), limit(query, 100)),
    }
  }
  if ((m = path.match(/^\/api\/v1\/stats\/([^/]+)$/))) return market.stats(known(decodeURIComponent(m[1] as string)))
  if (path === '/api/v1/news') return { data: market.newsList(limit(query, 50)) }
  if ((m = path.match(/^\/api\/v1\/news\/([^/]+)$/))) {
    const symbol = decodeURIComponent(m[1] as string)
    return { symbol, data: market.newsList(limit(query, 50), symbol) }
  }
  throw new ApiError(404, 'not_found', `no mock route for ${path}`)
}

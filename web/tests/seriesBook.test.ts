// The chart's series: history and live updates in any order, the newest copy kept.

import { describe, expect, it } from 'vitest'
import { candleBook, candleSupersedes, indicatorBook, toBar, type Bar } from '../src/lib/bars'
import { gaps } from '../src/lib/seriesBook'

function bar(time: number, trades: number, closed: boolean, close = 100 + time): Bar {
  return {
    time,
    open: 100,
    high: Math.max(100, close),
    low: Math.min(100, close),
    close,
    volume: trades,
    trades,
    closed,
  }
}

describe('SeriesBook of candles', () => {
  it('appends newer candles and updates the forming one in place', () => {
    const book = candleBook()
    expect(book.upsert(bar(60, 1, false))).toBe('append')
    expect(book.upsert(bar(60, 3, false))).toBe('last')
    expect(book.upsert(bar(60, 3, true))).toBe('last')
    expect(book.upsert(bar(120, 1, false))).toBe('append')
    expect(book.items.map((b) => [b.time, b.trades, b.closed])).toEqual([
      [60, 3, true],
      [120, 1, false],
    ])
  })

  it('never lets a stale copy replace a newer one', () => {
    const book = candleBook()
    book.upsert(bar(60, 5, true))
    expect(book.upsert(bar(60, 9, false))).toBe('none') // a late forming update of a closed candle
    book.upsert(bar(120, 7, false))
    expect(book.upsert(bar(120, 4, false))).toBe('none') // an older forming update
    expect(book.upsert(bar(60, 6, true))).toBe('reset') // a late trade amended the closed candle
    expect(book.items.map((b) => b.trades)).toEqual([6, 7])
    expect(candleSupersedes(bar(0, 1, false), bar(0, 0, true))).toBe(true)
  })

  it('merges history into live candles, both ways round', () => {
    const live = candleBook()
    live.upsert(bar(180, 2, false))
    const history = [bar(60, 4, true), bar(120, 5, true), bar(180, 1, false)]
    expect(live.merge(history)).toBe('reset')
    expect(live.items.map((b) => [b.time, b.trades])).toEqual([
      [60, 4],
      [120, 5],
      [180, 2],
    ])
    expect(live.merge(history)).toBe('none')
  })

  it('keeps the newest candles up to its capacity', () => {
    const book = candleBook(3)
    for (let t = 1; t <= 3; t++) book.upsert(bar(t, 1, true))
    expect(book.upsert(bar(4, 1, true))).toBe('reset')
    expect(book.items.map((b) => b.time)).toEqual([2, 3, 4])
    expect(book.upsert(bar(1, 1, true))).toBe('none')
  })

  it('finds the windows missing between candles', () => {
    const times = [0, 60, 240, 300, 420].map((time) => ({ time }))
    expect(gaps(times, 60)).toEqual([
      [120, 180],
      [360, 360],
    ])
    expect(gaps([], 60)).toEqual([])
  })

  it('reads REST candles in epoch seconds', () => {
    const b = toBar({
      time: '2024-08-08T23:59:00Z',
      open: 1,
      high: 2,
      low: 0.5,
      close: 1.5,
      volume: 3,
      trades: 4,
      quote_volume: 4.5,
      taker_buy_volume: 1,
      closed: true,
    })
    expect(b).toEqual({ time: 1723161540, open: 1, high: 2, low: 0.5, close: 1.5, volume: 3, trades: 4, closed: true })
  })
})

describe('SeriesBook of indicator points', () => {
  it('replaces a provisional value by the final one, never the other way', () => {
    const book = indicatorBook()
    book.upsert({ time: 60, value: 40, final: false })
    expect(book.upsert({ time: 60, value: 42, final: false })).toBe('last')
    expect(book.upsert({ time: 60, value: 41, final: true })).toBe('last')
    expect(book.upsert({ time: 60, value: 45, final: false })).toBe('none')
    expect(book.last?.value).toBe(41)
  })
})

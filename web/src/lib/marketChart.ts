// The chart: candles, volume and Bollinger bands in the main pane, then RSI, MACD and
// Momentum panes on the same time axis (lightweight-charts panes).

import {
  CandlestickSeries,
  ColorType,
  createChart,
  CrosshairMode,
  HistogramSeries,
  LineSeries,
  LineStyle,
  type CandlestickData,
  type HistogramData,
  type IChartApi,
  type ISeriesApi,
  type UTCTimestamp,
} from 'lightweight-charts'
import type { IndicatorType } from '../services/types'
import type { Bar, IndicatorBar } from './bars'
import { priceDigits } from './format'
import type { Change, SeriesBook } from './seriesBook'
import type { ChartTheme } from './theme'

const PANE = { price: 0, rsi: 1, macd: 2, momentum: 3 } as const
const STRETCH = [4, 1.15, 1.15, 1.15]

type Line = ISeriesApi<'Line'>
type Histogram = ISeriesApi<'Histogram'>

const t = (time: number): UTCTimestamp => time as UTCTimestamp

export class MarketChart {
  readonly chart: IChartApi
  private readonly candles: ISeriesApi<'Candlestick'>
  private readonly volume: Histogram
  private readonly bands: { upper: Line; middle: Line; lower: Line }
  private readonly rsi: Line
  private readonly macd: { line: Line; signal: Line; histogram: Histogram }
  private readonly momentum: Line
  private digits = -1
  /** A new selection is being drawn: frame it once its history is in. */
  private framePending = true

  constructor(
    el: HTMLElement,
    private readonly theme: ChartTheme,
  ) {
    this.chart = createChart(el, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: theme.background },
        textColor: theme.text,
        fontSize: 11,
        panes: { separatorColor: theme.border, separatorHoverColor: theme.grid, enableResize: true },
      },
      grid: { vertLines: { color: theme.grid }, horzLines: { color: theme.grid } },
      rightPriceScale: { borderColor: theme.border, minimumWidth: 72 },
      timeScale: {
        borderColor: theme.border,
        timeVisible: true,
        secondsVisible: false,
        rightOffset: 4,
        maxBarSpacing: 24,
      },
      crosshair: { mode: CrosshairMode.Normal },
      localization: { locale: 'en-US' },
    })
    const chart = this.chart
    const quiet = { lastValueVisible: false, priceLineVisible: false } as const
    this.candles = chart.addSeries(CandlestickSeries, {
      upColor: theme.up,
      downColor: theme.down,
      borderVisible: false,
      wickUpColor: theme.up,
      wickDownColor: theme.down,
    })
    this.volume = chart.addSeries(HistogramSeries, {
      priceScaleId: 'volume',
      priceFormat: { type: 'volume' },
      ...quiet,
    })
    chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } })
    const band = { color: theme.band, lineWidth: 1, ...quiet } as const
    this.bands = {
      upper: chart.addSeries(LineSeries, { ...band, lineStyle: LineStyle.Dashed }),
      middle: chart.addSeries(LineSeries, { ...band, title: 'BB 20' }),
      lower: chart.addSeries(LineSeries, { ...band, lineStyle: LineStyle.Dashed }),
    }
    this.rsi = chart.addSeries(
      LineSeries,
      {
        color: theme.accent,
        lineWidth: 2,
        title: 'RSI 14',
        priceLineVisible: false,
        // Always 0-100, so the 30 and 70 lines stay in view.
        autoscaleInfoProvider: () => ({ priceRange: { minValue: 0, maxValue: 100 } }),
      },
      PANE.rsi,
    )
    for (const level of [70, 30]) {
      this.rsi.createPriceLine({
        price: level,
        color: theme.level,
        lineStyle: LineStyle.Dashed,
        lineWidth: 1,
        axisLabelVisible: true,
        title: '',
      })
    }
    this.macd = {
      histogram: chart.addSeries(HistogramSeries, { ...quiet }, PANE.macd),
      line: chart.addSeries(
        LineSeries,
        { color: theme.accent, lineWidth: 2, title: 'MACD', priceLineVisible: false },
        PANE.macd,
      ),
      signal: chart.addSeries(
        LineSeries,
        { color: theme.signal, lineWidth: 1, title: 'Signal', priceLineVisible: false },
        PANE.macd,
      ),
    }
    this.momentum = chart.addSeries(
      LineSeries,
      { color: theme.signal, lineWidth: 2, title: 'MOM 10', priceLineVisible: false },
      PANE.momentum,
    )
    this.momentum.createPriceLine({
      price: 0,
      color: theme.level,
      lineStyle: LineStyle.Dotted,
      lineWidth: 1,
      axisLabelVisible: false,
      title: '',
    })
    chart.panes().forEach((pane, i) => pane.setStretchFactor(STRETCH[i] ?? 1))
  }

  /** Seconds on the time axis only where candles are that short. */
  setInterval(seconds: number): void {
    this.chart.applyOptions({ timeScale: { secondsVisible: seconds < 60 } })
  }

  drawCandles(change: Change, book: SeriesBook<Bar>): void {
    if (change === 'none') return
    const last = book.last
    if (last) this.setPrecision(last.close)
    if (change === 'reset' || !last) {
      this.candles.setData(book.items.map((b) => this.candle(b)))
      this.volume.setData(book.items.map((b) => this.volumeBar(b)))
      this.frame(book.size)
      return
    }
    this.candles.update(this.candle(last))
    this.volume.update(this.volumeBar(last))
  }

  drawIndicator(type: IndicatorType, change: Change, book: SeriesBook<IndicatorBar>): void {
    if (change === 'none') return
    const line = (series: Line, pick: (p: IndicatorBar) => number | undefined): void =>
      drawPoints(series, change, book, (p) => {
        const value = pick(p)
        return value === undefined ? null : { time: t(p.time), value }
      })
    switch (type) {
      case 'rsi':
        return line(this.rsi, (p) => p.value)
      case 'momentum':
        return line(this.momentum, (p) => p.value)
      case 'bollinger':
        line(this.bands.upper, (p) => p.upper)
        line(this.bands.middle, (p) => p.value)
        return line(this.bands.lower, (p) => p.lower)
      case 'macd': {
        line(this.macd.line, (p) => p.value)
        line(this.macd.signal, (p) => p.signal)
        const { upVolume, downVolume } = this.theme
        return drawPoints(this.macd.histogram, change, book, (p) =>
          p.histogram === undefined
            ? null
            : { time: t(p.time), value: p.histogram, color: p.histogram >= 0 ? upVolume : downVolume },
        )
      }
    }
  }

  /** Once per selection: a short history fills the width (bars at most 24 px wide), a long
   *  one shows its newest part at the default spacing. Later reloads keep the user's view. */
  private frame(size: number): void {
    if (size === 0) {
      this.framePending = true
      return
    }
    if (!this.framePending || size < 2) return
    this.framePending = false
    if (size < 150) this.chart.timeScale().fitContent()
    else this.chart.timeScale().scrollToRealTime()
  }

  /** What is drawn, for diagnostics and the end-to-end tests. */
  snapshot(): {
    candles: Array<{ time: number; open: number; high: number; low: number; close: number }>
    volume: number[]
  } {
    const candles = this.candles.data().filter((c): c is CandlestickData<UTCTimestamp> => 'open' in c)
    const volume = this.volume.data().filter((v): v is HistogramData<UTCTimestamp> => 'value' in v)
    return {
      candles: candles.map((c) => ({ time: c.time as number, open: c.open, high: c.high, low: c.low, close: c.close })),
      volume: volume.map((v) => v.value),
    }
  }

  indicatorCounts(): Record<IndicatorType, number> {
    return {
      rsi: this.rsi.data().length,
      macd: this.macd.line.data().length,
      bollinger: this.bands.middle.data().length,
      momentum: this.momentum.data().length,
    }
  }

  destroy(): void {
    this.chart.remove()
  }

  private setPrecision(price: number): void {
    const digits = priceDigits(price)
    if (digits === this.digits) return
    this.digits = digits
    const priceFormat = { type: 'price' as const, precision: digits, minMove: 10 ** -digits }
    this.candles.applyOptions({ priceFormat })
    for (const band of Object.values(this.bands)) band.applyOptions({ priceFormat })
  }

  private candle(b: Bar): { time: UTCTimestamp; open: number; high: number; low: number; close: number } {
    return { time: t(b.time), open: b.open, high: b.high, low: b.low, close: b.close }
  }

  private volumeBar(b: Bar): { time: UTCTimestamp; value: number; color: string } {
    return { time: t(b.time), value: b.volume, color: b.close >= b.open ? this.theme.upVolume : this.theme.downVolume }
  }
}

/** The whole series again on `reset`, else just its newest point. */
function drawPoints<S extends 'Line' | 'Histogram', D extends { time: UTCTimestamp; value: number }>(
  series: ISeriesApi<S>,
  change: Change,
  book: SeriesBook<IndicatorBar>,
  of: (p: IndicatorBar) => D | null,
): void {
  const target = series as unknown as { setData(data: D[]): void; update(point: D): void }
  const last = book.last
  if (change === 'reset' || !last) {
    target.setData(book.items.map(of).filter((d): d is D => d !== null))
    return
  }
  const point = of(last)
  if (point) target.update(point)
}

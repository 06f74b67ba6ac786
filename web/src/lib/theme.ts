// Chart colours come from the theme's CSS variables, so the stylesheet stays the one place
// where colours are chosen.

export interface ChartTheme {
  background: string
  text: string
  grid: string
  border: string
  up: string
  down: string
  upVolume: string
  downVolume: string
  accent: string
  signal: string
  band: string
  level: string
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  return style.getPropertyValue(name).trim() || fallback
}

/** `#rrggbb` at an opacity, for volume bars under the candles. */
export function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(hex)
  if (!m) return hex
  const n = parseInt(m[1] as string, 16)
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`
}

export function chartTheme(el: Element = document.documentElement): ChartTheme {
  const style = getComputedStyle(el)
  const up = cssVar(style, '--accent-green', '#26a69a')
  const down = cssVar(style, '--accent-red', '#ef5350')
  return {
    background: cssVar(style, '--bg-secondary', '#131722'),
    text: cssVar(style, '--text-secondary', '#9aa4b2'),
    grid: cssVar(style, '--grid-line', '#1f2633'),
    border: cssVar(style, '--border-primary', '#2a3140'),
    up,
    down,
    upVolume: withAlpha(up, 0.45),
    downVolume: withAlpha(down, 0.45),
    accent: cssVar(style, '--accent-blue', '#4c8dff'),
    signal: cssVar(style, '--accent-orange', '#f5a623'),
    band: cssVar(style, '--accent-purple', '#a78bfa'),
    level: cssVar(style, '--text-muted', '#5d6776'),
  }
}

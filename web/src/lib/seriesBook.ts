// A time-ordered series that history (REST) and live updates (WebSocket) both write into,
// in any order, without a stale copy ever overwriting a newer one.

export interface Timed {
  /** Epoch seconds. */
  time: number
}

/** What an update changed, so a chart can apply it cheaply: `last` and `append` touch
 *  only the newest point, `reset` needs the whole series drawn again. */
export type Change = 'none' | 'last' | 'append' | 'reset'

export class SeriesBook<T extends Timed> {
  private points: T[] = []

  constructor(
    /** Whether `incoming` should replace `current` at the same time. */
    private readonly supersedes: (current: T, incoming: T) => boolean,
    readonly capacity = 2000,
  ) {}

  get items(): readonly T[] {
    return this.points
  }

  get last(): T | undefined {
    return this.points[this.points.length - 1]
  }

  get size(): number {
    return this.points.length
  }

  clear(): void {
    this.points = []
  }

  upsert(point: T): Change {
    const points = this.points
    const last = points[points.length - 1]
    if (!last || point.time > last.time) {
      points.push(point)
      if (points.length > this.capacity) {
        points.splice(0, points.length - this.capacity)
        return 'reset'
      }
      return 'append'
    }
    if (point.time === last.time) {
      if (!this.supersedes(last, point) || sameFields(last, point)) return 'none'
      points[points.length - 1] = point
      return 'last'
    }
    const i = this.indexOf(point.time)
    const found = points[i]
    if (found && found.time === point.time) {
      if (!this.supersedes(found, point) || sameFields(found, point)) return 'none'
      points[i] = point
    } else {
      if (points.length >= this.capacity && i === 0) return 'none' // older than what is kept
      points.splice(i, 0, point)
      if (points.length > this.capacity) points.splice(0, points.length - this.capacity)
    }
    return 'reset'
  }

  /** Many points at once (history); `reset` if anything changed. */
  merge(incoming: readonly T[]): Change {
    let changed = false
    for (const point of incoming) if (this.upsert(point) !== 'none') changed = true
    return changed ? 'reset' : 'none'
  }

  /** First index whose time is >= `time`. */
  private indexOf(time: number): number {
    let lo = 0
    let hi = this.points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.points[mid] as T).time < time) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

function sameFields(a: object, b: object): boolean {
  const x = a as Record<string, unknown>
  const y = b as Record<string, unknown>
  const keys = Object.keys(x)
  return keys.length === Object.keys(y).length && keys.every((k) => x[k] === y[k])
}

/** Missing windows between consecutive points `step` seconds apart, as [first, last] times. */
export function gaps(points: readonly Timed[], step: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let i = 1; i < points.length; i++) {
    const prev = (points[i - 1] as Timed).time
    const next = (points[i] as Timed).time
    if (next - prev > step) out.push([prev + step, next - step])
  }
  return out
}

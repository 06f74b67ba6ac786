// Where the appliance is: VITE_API_URL and VITE_WS_URL, by default the page's own origin.

export interface Endpoints {
  apiUrl: string
  wsUrl: string
  useMock: boolean
}

type Env = Record<string, string | boolean | undefined>

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '')
}

function pageOrigin(): string {
  if (typeof location !== 'undefined' && location.origin && location.origin !== 'null') {
    return location.origin
  }
  return 'http://127.0.0.1:8080'
}

/** `http(s)://host` to `ws(s)://host/ws/crypto`. */
export function wsUrlFor(apiUrl: string): string {
  return `${trimSlash(apiUrl).replace(/^http/i, 'ws')}/ws/crypto`
}

function flag(value: string | boolean | undefined): boolean {
  return value === true || value === 'true' || value === '1'
}

/** Read at call time, so tests can set the variables before a client is made. */
export function endpoints(env: Env = import.meta.env as Env): Endpoints {
  const api = typeof env.VITE_API_URL === 'string' && env.VITE_API_URL ? env.VITE_API_URL : pageOrigin()
  const apiUrl = trimSlash(api)
  const ws = typeof env.VITE_WS_URL === 'string' && env.VITE_WS_URL ? env.VITE_WS_URL : wsUrlFor(apiUrl)
  return { apiUrl, wsUrl: ws, useMock: flag(env.VITE_USE_MOCK) }
}

// The part of the browser WebSocket the rt client uses, so the mock stream can stand in.

export interface SocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number; reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
}

export type SocketFactory = (url: string) => SocketLike

export const OPEN = 1

/** The platform WebSocket (browsers, or a polyfill a test put on globalThis). */
export function platformSocket(url: string): SocketLike {
  const Ctor = (globalThis as { WebSocket?: new (url: string) => SocketLike }).WebSocket
  if (!Ctor) throw new Error('no WebSocket implementation available')
  return new Ctor(url)
}

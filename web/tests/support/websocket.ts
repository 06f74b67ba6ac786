// Node before 22 has no WebSocket global; the `ws` package stands in for the browser's.

import WebSocket from 'ws'

export function installWebSocket(): void {
  const g = globalThis as { WebSocket?: unknown }
  g.WebSocket ??= WebSocket
}

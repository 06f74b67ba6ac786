// A TCP forwarder in front of the real server, whose connections a test can cut and
// refuse for a while: a network outage with the server still running.

import { createServer, connect, type Server, type Socket } from 'node:net'
import { freePort } from './backend'

export class CuttableProxy {
  private readonly sockets = new Set<Socket>()
  private refusing = false
  private server: Server | null = null
  connections = 0

  private constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  static async start(target: number): Promise<CuttableProxy> {
    const proxy = new CuttableProxy(await freePort(), target)
    await proxy.listen()
    return proxy
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws/crypto`
  }

  private listen(): Promise<void> {
    const server = createServer((client) => {
      if (this.refusing) {
        client.destroy()
        return
      }
      this.connections++
      const upstream = connect(this.target, '127.0.0.1')
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    this.server = server
    return new Promise((done) => server.listen(this.port, '127.0.0.1', () => done()))
  }

  /** Drops every open connection and turns new ones away until `restore()`. */
  cut(): void {
    this.refusing = true
    for (const s of this.sockets) s.destroy()
  }

  restore(): void {
    this.refusing = false
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done()))
  }
}

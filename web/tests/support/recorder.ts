// Collects what an rt client receives, for assertions.

import type { RTClient, WSMessage } from '../../src/services/rt'

export class Recorder {
  readonly messages: WSMessage[] = []
  private readonly offs: Array<() => void>

  constructor(rt: RTClient, types: string[]) {
    this.offs = types.map((type) => rt.on(type, (msg) => this.messages.push(msg)))
  }

  of<T = Record<string, unknown>>(type: string, where: (data: T) => boolean = () => true): Array<WSMessage<T>> {
    return this.messages.filter((m) => m.type === type && where(m.data as T)) as Array<WSMessage<T>>
  }

  stop(): void {
    for (const off of this.offs) off()
  }
}

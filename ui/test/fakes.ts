// A WebSocket and socket dependencies the tests drive by hand.

import type { SocketDeps, WebSocketLike } from "../src/socket";

export class FakeWs implements WebSocketLike {
  static all: FakeWs[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: WebSocketLike["onopen"] = null;
  onmessage: WebSocketLike["onmessage"] = null;
  onclose: WebSocketLike["onclose"] = null;
  onerror: WebSocketLike["onerror"] = null;
  constructor(public url: string) {
    FakeWs.all.push(this);
  }
  send(d: string) {
    this.sent.push(JSON.parse(d));
  }
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  /** The server accepts and greets. */
  accept() {
    this.readyState = 1;
    this.onopen?.({});
    this.emit({ type: "connected", client_id: "c", user_id: "u", protocol_version: 1, capabilities: [] });
  }
  emit(ev: object) {
    this.onmessage?.({ data: JSON.stringify(ev) });
  }
  /** The server (or the network) drops the connection. */
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

export function fakeDeps(over: Partial<SocketDeps> = {}): SocketDeps & { tickets: number; isOnline: boolean } {
  const d: SocketDeps & { tickets: number; isOnline: boolean } = {
    tickets: 0,
    isOnline: true,
    async ticket(): Promise<string> {
      d.tickets++;
      return "t" + d.tickets;
    },
    url: (t: string) => "ws://test/api/ws?ticket=" + t,
    open: (u: string) => new FakeWs(u),
    clock: { now: () => Date.now(), setTimeout: (f: () => void, ms: number) => setTimeout(f, ms), clearTimeout: (h: unknown) => clearTimeout(h as number) },
    random: () => 1,
    online: () => d.isOnline,
    ...over,
  };
  return d;
}


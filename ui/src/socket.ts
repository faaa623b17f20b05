// The WebSocket client (seed 003's useWebSocket): one connection to
// /api/ws, reconnected with exponential backoff and full jitter
// ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015: the delay
// is uniform in [0, min(cap, base * 2^attempt)]), from a 1 s window to a
// 30 s cap. Everything that touches time, randomness, the network or the
// browser comes in through SocketDeps, so tests drive it with a fake clock.

import type { ServerEvent } from "./types";

export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 30000;

/** The backoff window for a failed attempt (0-based). */
export function backoffWindow(attempt: number, base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS): number {
  return Math.min(cap, base * 2 ** Math.min(attempt, 30));
}

/** Full jitter: a delay uniform in [0, window]. */
export function backoffDelay(attempt: number, random: () => number, base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS): number {
  return Math.floor(random() * backoffWindow(attempt, base, cap));
}

export type ConnState = "idle" | "connecting" | "connected" | "reconnecting" | "offline";

export interface ConnStatus {
  state: ConnState;
  /** When reconnecting: the clock time of the next attempt. */
  retryAt?: number;
  /** Failed attempts since the last successful connection. */
  attempt: number;
}

export interface WebSocketLike {
  readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SocketDeps {
  /** A one-time ticket for ?ticket= (POST /api/ws-ticket); throws AuthLost when signed out. */
  ticket(): Promise<string>;
  /** The WebSocket URL for a ticket. */
  url(ticket: string): string;
  open(url: string): WebSocketLike;
  clock: Clock;
  random(): number;
  /** navigator.onLine. */
  online(): boolean;
}

/** Thrown by deps.ticket() when the session is over (no refresh possible). */
export class AuthLost extends Error {}

const OPEN = 1;

export class ChatSocket {
  private ws: WebSocketLike | null = null;
  private timer: unknown = null;
  private wanted = false;
  private status: ConnStatus = { state: "idle", attempt: 0 };
  private statusCbs = new Set<(s: ConnStatus) => void>();
  private eventCbs = new Set<(e: ServerEvent) => void>();
  private authLostCbs = new Set<() => void>();
  private generation = 0;

  constructor(private deps: SocketDeps) {}

  get current(): ConnStatus {
    return this.status;
  }

  onStatus(cb: (s: ConnStatus) => void): () => void {
    this.statusCbs.add(cb);
    return () => this.statusCbs.delete(cb);
  }

  onEvent(cb: (e: ServerEvent) => void): () => void {
    this.eventCbs.add(cb);
    return () => this.eventCbs.delete(cb);
  }

  onAuthLost(cb: () => void): () => void {
    this.authLostCbs.add(cb);
    return () => this.authLostCbs.delete(cb);
  }

  /** Connects and keeps the connection up until stop(). */
  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.connect();
  }

  stop(): void {
    this.wanted = false;
    this.generation++;
    this.clearTimer();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "signed out");
    this.setStatus({ state: "idle", attempt: 0 });
  }

  /** The browser came back online: try now instead of waiting. */
  nudge(): void {
    if (!this.wanted || this.ws) return;
    this.clearTimer();
    this.connect();
  }

  /** The browser went offline. */
  wentOffline(): void {
    if (!this.wanted) return;
    if (!this.ws || this.ws.readyState !== OPEN) {
      this.clearTimer();
      this.setStatus({ state: "offline", attempt: this.status.attempt });
    }
  }

  /** Sends when connected; false otherwise (the caller re-sends on "connected"). */
  send(msg: object): boolean {
    if (!this.ws || this.ws.readyState !== OPEN || this.status.state !== "connected") return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  get connected(): boolean {
    return this.status.state === "connected";
  }

  private setStatus(s: ConnStatus): void {
    this.status = s;
    for (const cb of this.statusCbs) cb(s);
  }

  private clearTimer(): void {
    if (this.timer !== null) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    if (!this.deps.online()) {
      this.setStatus({ state: "offline", attempt: this.status.attempt });
      return; // nudge() on the "online" event
    }
    this.setStatus({ state: this.status.attempt > 0 ? "reconnecting" : "connecting", attempt: this.status.attempt });
    let ticket: string;
    try {
      ticket = await this.deps.ticket();
    } catch (e) {
      if (gen !== this.generation) return;
      if (e instanceof AuthLost) {
        this.wanted = false;
        this.setStatus({ state: "idle", attempt: 0 });
        for (const cb of this.authLostCbs) cb();
        return;
      }
      this.retryLater();
      return;
    }
    if (gen !== this.generation || !this.wanted) return;
    const ws = this.deps.open(this.deps.url(ticket));
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      let m: ServerEvent;
      try {
        m = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (!m || typeof m.type !== "string") return;
      if (m.type === "connected") this.setStatus({ state: "connected", attempt: 0 });
      for (const cb of this.eventCbs) cb(m);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.wanted) return;
      // 4001 (credentials) included: the next attempt asks for a new
      // ticket, refreshing the access token if it expired.
      this.retryLater();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private retryLater(): void {
    const attempt = this.status.attempt;
    const delay = backoffDelay(attempt, this.deps.random);
    const retryAt = this.deps.clock.now() + delay;
    if (!this.deps.online()) {
      this.setStatus({ state: "offline", attempt: attempt + 1 });
      return;
    }
    this.setStatus({ state: "reconnecting", attempt: attempt + 1, retryAt });
    this.clearTimer();
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = null;
      if (this.wanted && !this.ws) this.connect();
    }, delay);
  }
}

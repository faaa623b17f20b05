// The socket client's reconnect, backoff and status logic, on a fake clock.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuthLost, BACKOFF_CAP_MS, ChatSocket, backoffDelay, backoffWindow, type ConnStatus } from "../src/socket";
import { FakeWs, fakeDeps } from "./fakes";

const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
  FakeWs.all = [];
});
afterEach(() => vi.useRealTimers());

describe("backoff", () => {
  it("doubles a 1 s window up to a 30 s cap", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 20].map((a) => backoffWindow(a))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });
  it("draws the delay uniformly within the window (full jitter)", () => {
    expect(backoffDelay(3, () => 0)).toBe(0);
    expect(backoffDelay(3, () => 0.5)).toBe(4000);
    expect(backoffDelay(3, () => 0.999)).toBe(7992);
    expect(backoffDelay(40, () => 0.999)).toBeLessThan(BACKOFF_CAP_MS);
  });
});

describe("ChatSocket", () => {
  it("connects with a fresh ticket and reports connected", async () => {
    const deps = fakeDeps();
    const s = new ChatSocket(deps);
    const states: string[] = [];
    s.onStatus((st) => states.push(st.state));
    s.start();
    await flush();
    expect(FakeWs.all).toHaveLength(1);
    expect(FakeWs.all[0].url).toBe("ws://test/api/ws?ticket=t1");
    FakeWs.all[0].accept();
    expect(states).toEqual(["connecting", "connected"]);
    expect(s.send({ type: "ping" })).toBe(true);
    expect(FakeWs.all[0].sent).toEqual([{ type: "ping" }]);
  });

  it("reconnects after drops with growing, capped, jittered delays and resets after success", async () => {
    const deps = fakeDeps({ random: () => 0.5 });
    const s = new ChatSocket(deps);
    const seen: ConnStatus[] = [];
    s.onStatus((st) => seen.push({ ...st }));
    s.start();
    await flush();
    FakeWs.all[0].accept();
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      FakeWs.all[FakeWs.all.length - 1].drop();
      const st = s.current;
      expect(st.state).toBe("reconnecting");
      delays.push(st.retryAt! - Date.now());
      const before = FakeWs.all.length;
      await vi.advanceTimersByTimeAsync(st.retryAt! - Date.now() - 1);
      expect(FakeWs.all.length).toBe(before); // not early
      await vi.advanceTimersByTimeAsync(1);
      expect(FakeWs.all.length).toBe(before + 1);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000]);
    // A successful connection starts the sequence again.
    FakeWs.all[FakeWs.all.length - 1].accept();
    expect(s.current).toEqual({ state: "connected", attempt: 0 });
    FakeWs.all[FakeWs.all.length - 1].drop();
    expect(s.current.retryAt! - Date.now()).toBe(500);
  });

  it("retries when the ticket request fails, and signs out when the session is gone", async () => {
    let fail: "net" | "auth" | null = "net";
    const deps = fakeDeps({
      async ticket() {
        if (fail === "net") throw new Error("offline");
        if (fail === "auth") throw new AuthLost();
        return "ok";
      },
    });
    const s = new ChatSocket(deps);
    const lost = vi.fn();
    s.onAuthLost(lost);
    s.start();
    await flush();
    expect(s.current.state).toBe("reconnecting");
    expect(FakeWs.all).toHaveLength(0);
    fail = "auth";
    await vi.advanceTimersByTimeAsync(1000);
    expect(lost).toHaveBeenCalledTimes(1);
    expect(s.current.state).toBe("idle");
    await vi.advanceTimersByTimeAsync(60000);
    expect(FakeWs.all).toHaveLength(0); // gave up for good
  });

  it("waits while offline and connects at once when the network returns", async () => {
    const deps = fakeDeps();
    const s = new ChatSocket(deps);
    s.start();
    await flush();
    FakeWs.all[0].accept();
    deps.isOnline = false;
    s.wentOffline(); // the socket is still open: nothing to do yet
    FakeWs.all[0].drop();
    expect(s.current.state).toBe("offline");
    await vi.advanceTimersByTimeAsync(120000);
    expect(FakeWs.all).toHaveLength(1);
    deps.isOnline = true;
    s.nudge();
    await flush();
    expect(FakeWs.all).toHaveLength(2);
    FakeWs.all[1].accept();
    expect(s.current.state).toBe("connected");
  });

  it("does not send before the server greets, and stop() ends reconnecting", async () => {
    const s = new ChatSocket(fakeDeps());
    s.start();
    await flush();
    FakeWs.all[0].readyState = 1;
    expect(s.send({ type: "ping" })).toBe(false);
    FakeWs.all[0].accept();
    s.stop();
    expect(s.current.state).toBe("idle");
    await vi.advanceTimersByTimeAsync(60000);
    expect(FakeWs.all).toHaveLength(1);
  });

  it("ignores frames that are not JSON objects with a type", async () => {
    const s = new ChatSocket(fakeDeps());
    const got: unknown[] = [];
    s.onEvent((e) => got.push(e));
    s.start();
    await flush();
    FakeWs.all[0].accept();
    FakeWs.all[0].onmessage?.({ data: "not json" });
    FakeWs.all[0].onmessage?.({ data: "[1,2]" });
    FakeWs.all[0].emit({ type: "pong", ts: 1 });
    expect(got.map((e) => (e as { type: string }).type)).toEqual(["connected", "pong"]);
  });
});

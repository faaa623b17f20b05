// Subscribes a component to a store with subscribe(cb) and a state field.

import { useEffect, useState } from "preact/hooks";

export function useStore<T>(store: { subscribe(cb: () => void): () => void }, read: () => T): T {
  const [, force] = useState(0);
  useEffect(() => store.subscribe(() => force((n) => n + 1)), [store]);
  return read();
}

/** Seconds left until a clock time, re-rendered every second while > 0. */
export function useCountdown(until: number | undefined): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!until) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(t);
  }, [until]);
  return until ? Math.max(0, Math.ceil((until - now) / 1000)) : 0;
}

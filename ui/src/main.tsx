// Entry: theme, session restore (refresh cookie), then the app or sign-in.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { AuthLost, ChatSocket } from "./socket";
import { ApiError, currentUser, forget, onSessionChange, refresh, rest } from "./api";
import { App, applyTheme } from "./components/App";
import { Auth } from "./components/Auth";
import { SharedPage } from "./components/Share";
import { Logo } from "./components/icons";
import "./styles.css";

applyTheme((localStorage.getItem("medstream.theme") as "light" | "dark" | null) || null);

function makeSocket(): ChatSocket {
  return new ChatSocket({
    async ticket() {
      try {
        return (await rest.ticket()).ticket;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) throw new AuthLost();
        throw e;
      }
    },
    url(ticket) {
      const u = new URL("/api/ws", location.href);
      u.protocol = location.protocol === "https:" ? "wss:" : "ws:";
      u.search = "?ticket=" + encodeURIComponent(ticket);
      return u.href;
    },
    open: (url) => new WebSocket(url) as never,
    clock: { now: () => Date.now(), setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as number) },
    random: Math.random,
    online: () => navigator.onLine,
  });
}

function Root() {
  const [phase, setPhase] = useState<"loading" | "in" | "out">("loading");
  const [notice, setNotice] = useState("");
  const [socket, setSocket] = useState<ChatSocket | null>(null);

  useEffect(() => {
    const off = onSessionChange((u) => {
      if (u) {
        setSocket(makeSocket());
        setPhase("in");
      } else {
        setSocket(null);
        setPhase("out");
      }
    });
    refresh()
      .then((s) => {
        if (!s) setPhase("out");
      })
      .catch(() => {
        setNotice("The server cannot be reached. Check your connection and reload.");
        setPhase("out");
      });
    return off;
  }, []);

  useEffect(() => {
    if (!socket) return;
    return socket.onAuthLost(() => {
      forget();
      setNotice("Your session has ended. Sign in again.");
    });
  }, [socket]);

  if (phase === "loading")
    return (
      <div class="boot" role="status">
        <Logo />
        <span class="sr-only">Loading medstream</span>
      </div>
    );
  if (phase === "out" || !socket || !currentUser()) return <Auth notice={notice} />;
  return <App socket={socket} key={currentUser()!.id} />;
}

// A share link (#/s/<token>) opens the read-only view, with no session.
const shared = /^#\/s\/([A-Za-z0-9_-]{16,128})$/.exec(location.hash)?.[1];
render(shared ? <SharedPage token={shared} /> : <Root />, document.getElementById("app")!);

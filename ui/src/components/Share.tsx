// Share links (docs/protocol.md "Share links"): the dialog that creates one
// (expiry, optional password, optional view cap), lists a conversation's
// links with their state and counts, and revokes them; and the read-only
// page a link opens, without an account.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, openShared, rest } from "../api";
import { errorText } from "../chat";
import { mergeSources } from "../citations";
import { renderMarkdown, splitDisclaimer } from "../markdown";
import { formatDateTime } from "../time";
import type { Message, Share, SharedView } from "../types";
import { Icon, Logo } from "./icons";

const EXPIRIES: [number, string][] = [
  [3600, "1 hour"],
  [86400, "24 hours"],
  [7 * 86400, "7 days"],
  [30 * 86400, "30 days"],
];

const STATES: Record<Share["state"], string> = { active: "Active", revoked: "Revoked", expired: "Expired", view_limit: "View limit reached" };

/** The page address a link's token opens (the shared view below). */
export function shareLink(token: string): string {
  return `${location.origin}/#/s/${token}`;
}

export function ShareDialog({ conversationId, title, onClose }: { conversationId: string; title: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [shares, setShares] = useState<Share[] | null>(null);
  const [expires, setExpires] = useState(86400);
  const [password, setPassword] = useState("");
  const [maxViews, setMaxViews] = useState("");
  const [created, setCreated] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const load = async () => {
    try {
      setShares((await rest.shares(conversationId)).shares);
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    void load();
  }, []);

  async function create(e: Event) {
    e.preventDefault();
    setError("");
    const views = maxViews.trim() ? Number(maxViews) : undefined;
    if (password && password.length < 8) return setError("A password needs at least 8 characters.");
    if (views !== undefined && (!Number.isInteger(views) || views < 1)) return setError("The view limit is a whole number of at least 1.");
    setBusy(true);
    try {
      const s = await rest.share(conversationId, { expires_in: expires, ...(password ? { password } : {}), ...(views ? { max_views: views } : {}) });
      setCreated(s.token ? shareLink(s.token) : null);
      setPassword("");
      setMaxViews("");
      setCopied(false);
      await load();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  async function revoke(s: Share) {
    setError("");
    try {
      await rest.revokeShare(conversationId, s.id);
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  }

  return (
    <dialog ref={ref} class="dialog share-dialog" aria-labelledby="share-title" onClose={onClose} onCancel={(e) => { e.preventDefault(); ref.current?.close(); }}>
      <div class="dialog-head">
        <h2 id="share-title">Share “{title}”</h2>
        <button type="button" class="icon-btn" aria-label="Close" onClick={() => ref.current?.close()}><Icon name="close" /></button>
      </div>
      <p class="muted">Anyone with the link can read this conversation, without an account, until it expires or you revoke it. Nothing can be changed through it.</p>
      <form class="share-form" onSubmit={create} noValidate>
        <label for="share-expiry">Expires after</label>
        <select id="share-expiry" value={String(expires)} onChange={(e) => setExpires(Number((e.target as HTMLSelectElement).value))}>
          {EXPIRIES.map(([v, t]) => (
            <option key={v} value={String(v)}>{t}</option>
          ))}
        </select>
        <label for="share-password">Password (optional)</label>
        <input id="share-password" type="password" autoComplete="new-password" minLength={8} maxLength={1024} value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} aria-describedby="share-pw-hint" />
        <p id="share-pw-hint" class="hint">At least 8 characters; the reader is asked for it.</p>
        <label for="share-views">View limit (optional)</label>
        <input id="share-views" type="number" inputMode="numeric" min={1} step={1} value={maxViews} onInput={(e) => setMaxViews((e.target as HTMLInputElement).value)} />
        <p class="form-error" role="alert">{error}</p>
        <button type="submit" class="btn primary" disabled={busy}>
          <Icon name="share" size={16} /> {busy ? "Creating…" : "Create link"}
        </button>
      </form>
      {created && (
        <div class="share-created" role="status">
          <label for="share-url">New link (shown only now)</label>
          <div class="copy-row">
            <input id="share-url" readOnly value={created} onFocus={(e) => (e.target as HTMLInputElement).select()} />
            <button
              type="button"
              class="btn small"
              onClick={async () => {
                try {
                  await navigator.clipboard.writeText(created);
                  setCopied(true);
                } catch {
                  /* clipboard refused: the field is selectable */
                }
              }}
            >
              {copied ? "Copied" : "Copy"}
            </button>
          </div>
        </div>
      )}
      <h3 class="share-list-h">Links</h3>
      {shares && !shares.length && <p class="muted">No links yet.</p>}
      {shares && shares.length > 0 && (
        <ul class="share-list" aria-label="Share links">
          {shares.map((s) => (
            <li key={s.id} data-state={s.state}>
              <div class="share-line">
                <span class={"pill " + s.state}>{STATES[s.state] ?? s.state}</span>
                {s.password_protected && (
                  <span class="pill">
                    <Icon name="lock" size={12} /> Password
                  </span>
                )}
                <span class="share-views">
                  {s.view_count} view{s.view_count === 1 ? "" : "s"}
                  {s.max_views != null ? ` of ${s.max_views}` : ""}
                  {s.denied_count ? `, ${s.denied_count} refused` : ""}
                </span>
              </div>
              <div class="share-line muted">
                Created {formatDateTime(s.created_at)} · {s.state === "revoked" && s.revoked_at ? `revoked ${formatDateTime(s.revoked_at)}` : `expires ${formatDateTime(s.expires_at)}`}
              </div>
              {s.state === "active" && (
                <button type="button" class="btn small" onClick={() => void revoke(s)} aria-label={`Revoke the link created ${formatDateTime(s.created_at)}`}>
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </dialog>
  );
}

const VIEW_ERRORS: Record<string, string> = {
  share_not_found: "This link does not exist, or the conversation was deleted.",
  share_revoked: "This link was revoked by the person who shared it.",
  share_expired: "This link has expired.",
  share_view_limit: "This link has been viewed as many times as it allows.",
  wrong_password: "That password is not right.",
  rate_limited: "Too many attempts. Wait a minute and try again.",
};

function SharedMessage({ m, disclaimer }: { m: Message; disclaimer: string }) {
  const { body } = splitDisclaimer(m.content, m.disclaimer || disclaimer, false);
  const html = useMemo(() => renderMarkdown(body), [body]);
  const sources = useMemo(() => mergeSources(m.citations ?? []), [m.citations]);
  if (m.role === "user")
    return (
      <article class="msg user" aria-label="Question">
        <div class="bubble">{m.content}</div>
      </article>
    );
  return (
    <article class="msg assistant" aria-label="Answer" data-status={m.status}>
      <div class="avatar" aria-hidden="true"><Icon name="book" size={16} /></div>
      <div class="answer">
        <div class="prose" dangerouslySetInnerHTML={{ __html: html }} />
        <aside class="disclaimer" aria-label="Medical disclaimer">
          <Icon name="shield" size={16} />
          <p>{m.disclaimer || disclaimer}</p>
        </aside>
        {sources.length > 0 && (
          <div class="sources">
            <h2>Sources</h2>
            <ol>
              {sources.map((s) => (
                <li key={s.key} class="source-chip static">
                  <span class="num">{s.indexes.join(", ")}</span>
                  <span class="t">{s.title}</span>
                  {s.subtitles.length > 0 && <span class="sub">{s.subtitles.join(" · ")}</span>}
                  {s.sourceName && <span class="src">{s.sourceName}</span>}
                </li>
              ))}
            </ol>
          </div>
        )}
      </div>
    </article>
  );
}

/** The read-only page of a share link (#/s/<token>). */
export function SharedPage({ token }: { token: string }) {
  const [view, setView] = useState<SharedView | null>(null);
  const [needPassword, setNeedPassword] = useState(false);
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const open = async (pw?: string) => {
    setBusy(true);
    setError("");
    try {
      setView(await openShared(token, pw));
      setNeedPassword(false);
    } catch (e) {
      if (e instanceof ApiError && (e.code === "password_required" || e.code === "wrong_password")) setNeedPassword(true);
      setError(e instanceof ApiError ? (e.code === "password_required" ? "" : VIEW_ERRORS[e.code] ?? e.message) : errorText(e));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => void open(), [token]);

  return (
    <div class="shared">
      <header class="shared-head">
        <a class="brand" href="/">
          <Logo />
          <span>medstream</span>
        </a>
        <span class="pill">Shared conversation · read-only</span>
      </header>
      <main id="main" class="shared-main">
        {needPassword && (
          <form class="auth-card" onSubmit={(e) => { e.preventDefault(); void open(password); }}>
            <h1>This conversation is protected</h1>
            <label for="shared-password">Password</label>
            <input id="shared-password" type="password" autoComplete="off" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
            <p class="form-error" role="alert">{error}</p>
            <button class="btn primary wide" type="submit" disabled={busy || !password}>Open</button>
          </form>
        )}
        {!needPassword && error && (
          <div class="empty">
            <h1>This link cannot be opened</h1>
            <p class="muted" role="alert">{error}</p>
          </div>
        )}
        {view && (
          <>
            <h1 class="shared-title">{view.conversation.title}</h1>
            <p class="muted">
              {view.messages.length} message{view.messages.length === 1 ? "" : "s"} · link expires {formatDateTime(view.share.expires_at)}
              {view.share.views_remaining != null ? ` · ${view.share.views_remaining} view${view.share.views_remaining === 1 ? "" : "s"} left` : ""}
            </p>
            <div class="thread">
              {view.messages.map((m) => (
                <SharedMessage key={m.id} m={m} disclaimer={view.disclaimer} />
              ))}
            </div>
          </>
        )}
      </main>
    </div>
  );
}

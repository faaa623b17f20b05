// REST client. The access token lives in this module's memory only; the
// refresh token is an HttpOnly cookie the page never sees
// (docs/protocol.md, "Authentication"), so a reload signs in again with
// POST /api/auth/refresh. Refreshes are single-flight within a tab and
// serialised across tabs (Web Locks), because each refresh token is good
// for one use and two tabs racing with the same cookie would look like a
// replay to the server, which then ends every session.

import type { Attachment, CitationStyle, ClinicalContext, FormattedCitations, ClinicalContextFields, Conversation, Feedback, Folder, FolderNode, Message, Model, Share, SharedView, User } from "./types";

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Session {
  access: string;
  user: User;
  expiresAt: number;
}

let session: Session | null = null;
let refreshing: Promise<Session | null> | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | null = null;
const listeners = new Set<(u: User | null) => void>();

export function currentUser(): User | null {
  return session?.user ?? null;
}

export function onSessionChange(cb: (u: User | null) => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

function setSession(s: Session | null): void {
  const before = session?.user.id;
  session = s;
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
  if (s) {
    // Renew at 80% of the lifetime, so a socket ticket never waits for it.
    const ms = Math.max(5000, (s.expiresAt - Date.now()) * 0.8);
    refreshTimer = setTimeout(() => void refresh(), ms);
  }
  if (before !== s?.user.id) for (const cb of listeners) cb(s?.user ?? null);
}

async function parse(r: Response): Promise<unknown> {
  if (r.status === 204) return null;
  const text = await r.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function toError(status: number, body: unknown): ApiError {
  const e = (body as { error?: { code?: string; message?: string } } | null)?.error;
  return new ApiError(status, e?.code ?? "http_" + status, e?.message ?? `HTTP ${status}`);
}

interface TokenBody {
  access_token: string;
  expires_in: number;
  user: User;
}

function sessionFrom(b: TokenBody): Session {
  return { access: b.access_token, user: b.user, expiresAt: Date.now() + b.expires_in * 1000 };
}

async function post(path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const r = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: await parse(r) };
}

async function refreshOnce(): Promise<Session | null> {
  const run = async () => {
    let r;
    try {
      r = await post("/api/auth/refresh");
    } catch {
      throw new ApiError(0, "network", "The server cannot be reached.");
    }
    if (r.status === 200) return sessionFrom(r.body as TokenBody);
    if (r.status >= 500) throw toError(r.status, r.body);
    return null;
  };
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  return locks ? locks.request("medstream-refresh", run) : run();
}

/** Exchanges the refresh cookie for a new access token; null when there is
 * no (valid) cookie. Concurrent callers share one request. */
export function refresh(): Promise<Session | null> {
  if (!refreshing) {
    refreshing = refreshOnce()
      .then((s) => {
        setSession(s);
        return s;
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

/** Signs in (or registers); the refresh token comes back as a cookie. */
export async function signIn(email: string, password: string, register: boolean): Promise<User> {
  const r = await post(register ? "/api/auth/register" : "/api/auth/login", { email, password, use_cookie: true });
  if (r.status !== 200 && r.status !== 201) throw toError(r.status, r.body);
  const s = sessionFrom(r.body as TokenBody);
  setSession(s);
  return s.user;
}

/** Revokes the refresh token and forgets the access token. */
export async function signOut(): Promise<void> {
  try {
    await post("/api/auth/logout");
  } finally {
    setSession(null);
  }
}

/** Drops the in-memory session (the server already refused it). */
export function forget(): void {
  setSession(null);
}

/** An authenticated request; one refresh and retry on 401. */
export async function api<T>(method: string, path: string, body?: unknown, opts: { keepalive?: boolean } = {}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    if (!session) throw new ApiError(401, "unauthorized", "Signed out");
    const headers: Record<string, string> = { Authorization: "Bearer " + session.access };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      keepalive: opts.keepalive,
    });
    if (r.status === 401 && attempt === 0) {
      if (await refresh()) continue;
      throw new ApiError(401, "unauthorized", "Your session has ended; sign in again.");
    }
    const data = await parse(r);
    if (!r.ok) throw toError(r.status, data);
    return data as T;
  }
}

export const rest = {
  conversations: (q?: string) =>
    api<{ conversations: Conversation[] }>("GET", "/api/conversations?limit=200" + (q ? "&q=" + encodeURIComponent(q) : "")),
  createConversation: (title: string) => api<Conversation>("POST", "/api/conversations", { title }),
  rename: (id: string, title: string) => api<Conversation>("PATCH", `/api/conversations/${id}`, { title }),
  remove: (id: string, keepalive = false) => api<null>("DELETE", `/api/conversations/${id}`, undefined, { keepalive }),
  messages: (id: string) => api<{ messages: Message[] }>("GET", `/api/conversations/${id}/messages`),
  models: () => api<{ models: Model[]; default: string; disclaimer: string }>("GET", "/api/models"),
  feedback: (messageId: string, rating: "up" | "down", comment: string | null) =>
    api<Feedback>("PUT", `/api/messages/${messageId}/feedback`, { rating, comment }),
  clearFeedback: (messageId: string) => api<null>("DELETE", `/api/messages/${messageId}/feedback`),
  ticket: () => api<{ ticket: string }>("POST", "/api/ws-ticket"),
  // Folders (docs/protocol.md "Folders").
  folderTree: () => api<{ folders: FolderNode[] }>("GET", "/api/folders/tree"),
  createFolder: (name: string, parentId: string | null) => api<Folder>("POST", "/api/folders", { name, parent_folder_id: parentId }),
  renameFolder: (id: string, name: string) => api<Folder>("PUT", `/api/folders/${id}`, { name }),
  deleteFolder: (id: string) => api<null>("DELETE", `/api/folders/${id}`),
  moveFolder: (id: string, target: string | null) => api<Folder>("POST", `/api/folders/${id}/move/${target ?? "root"}`),
  file: (conversationId: string, folderId: string | null) => api<Conversation>("PATCH", `/api/conversations/${conversationId}`, { folder_id: folderId }),
  // Share links (docs/protocol.md "Share links").
  shares: (conversationId: string) => api<{ shares: Share[] }>("GET", `/api/sessions/${conversationId}/shares`),
  share: (conversationId: string, body: { expires_in: number; password?: string; max_views?: number }) => api<Share>("POST", `/api/sessions/${conversationId}/share`, body),
  revokeShare: (conversationId: string, shareId: string) => api<null>("DELETE", `/api/sessions/${conversationId}/share/${shareId}`),
  // Clinical contexts (docs/protocol.md "Clinical context").
  currentContext: (conversationId: string) => api<ClinicalContext>("GET", `/api/clinical-contexts/current?conversation_id=${conversationId}`),
  createContext: (fields: ClinicalContextFields, conversationId: string | null) =>
    api<ClinicalContext>("POST", "/api/clinical-contexts", conversationId ? { ...fields, conversation_id: conversationId } : fields),
  updateContext: (id: string, fields: ClinicalContextFields) => api<ClinicalContext>("PUT", `/api/clinical-contexts/${id}`, fields),
  deleteContext: (id: string) => api<null>("DELETE", `/api/clinical-contexts/${id}`),
  importFhir: (bundle: unknown, conversationId: string | null) =>
    api<ClinicalContext>("POST", "/api/clinical-contexts/import/fhir" + (conversationId ? `?conversation_id=${conversationId}&replace=true` : ""), bundle),
  // Citations in a style (docs/protocol.md "Citations").
  citations: (messageId: string, style: CitationStyle) => api<FormattedCitations>("GET", `/api/messages/${messageId}/citations?style=${style}`),
  // Attachments (docs/protocol.md "Attachments").
  attachments: (messageId: string) => api<Attachment[]>("GET", `/api/messages/${messageId}/attachments`),
  deleteAttachment: (id: string) => api<null>("DELETE", `/api/attachments/${id}`),
};

/** A GET with the access token that hands back the raw Response (file
 * downloads); one refresh and retry on 401. */
export async function authFetch(path: string): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    if (!session) throw new ApiError(401, "unauthorized", "Signed out");
    const r = await fetch(path, { headers: { Authorization: "Bearer " + session.access } });
    if (r.status === 401 && attempt === 0 && (await refresh())) continue;
    return r;
  }
}

/** Uploads one file to a message as multipart/form-data, reporting the
 * bytes sent (XMLHttpRequest: fetch has no upload progress). One refresh
 * and retry on 401, like api(). */
export async function uploadAttachment(messageId: string, file: File, onProgress: (sent: number, total: number) => void): Promise<Attachment> {
  for (let attempt = 0; ; attempt++) {
    if (!session) throw new ApiError(401, "unauthorized", "Signed out");
    const token = session.access;
    const r = await new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open("POST", `/api/messages/${messageId}/attachments`);
      x.setRequestHeader("Authorization", "Bearer " + token);
      x.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
      x.onload = () => {
        let body: unknown = null;
        try {
          body = x.responseText ? JSON.parse(x.responseText) : null;
        } catch {
          /* not JSON */
        }
        resolve({ status: x.status, body });
      };
      x.onerror = () => reject(new ApiError(0, "network", "The upload was interrupted."));
      const fd = new FormData();
      fd.append("file", file, file.name);
      x.send(fd);
    });
    if (r.status === 401 && attempt === 0 && (await refresh())) continue;
    if (r.status !== 201 && r.status !== 200) throw toError(r.status, r.body);
    return r.body as Attachment;
  }
}

/** A shared conversation, read without an account; the password (if the
 * link has one) goes in a POST body, never the URL. */
export async function openShared(token: string, password?: string): Promise<SharedView> {
  const path = "/api/shared/" + encodeURIComponent(token);
  const r = await fetch(path, password === undefined ? { method: "GET" } : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ password }) });
  const data = await parse(r);
  if (!r.ok) throw toError(r.status, data);
  return data as SharedView;
}

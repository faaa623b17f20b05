// Files attached to a message (docs/protocol.md "Attachments"): upload with
// the bytes sent shown as they go, then the server's extraction status and
// progress (polled, as the server reports it only on the list route), the
// list with download and delete. The extracted text is then searched and
// cited in the conversation's later answers.

import { useEffect, useRef, useState } from "preact/hooks";
import { authFetch, rest, uploadAttachment } from "../api";
import { errorText } from "../chat";
import type { Attachment } from "../types";
import { Icon } from "./icons";

const STATUS: Record<Attachment["status"], string> = { pending: "Waiting", extracting: "Reading", ready: "Ready", failed: "Failed" };

export function fileSize(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "";
  if (n < 1024) return n + " B";
  if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + " KB";
  return (n / (1024 * 1024)).toFixed(1) + " MB";
}

export function Attachments({ messageId, canAttach }: { messageId: string; canAttach: boolean }) {
  const [items, setItems] = useState<Attachment[]>([]);
  const [uploads, setUploads] = useState<{ name: string; sent: number; total: number }[]>([]);
  const [error, setError] = useState("");
  const input = useRef<HTMLInputElement>(null);
  const alive = useRef(true);

  const load = async () => {
    try {
      const list = await rest.attachments(messageId);
      if (alive.current) setItems(Array.isArray(list) ? list : []);
    } catch (e) {
      if (alive.current) setError(errorText(e));
    }
  };

  useEffect(() => {
    alive.current = true;
    void load();
    return () => {
      alive.current = false;
    };
  }, [messageId]);

  // Poll while the server is still reading a file.
  const busy = items.some((a) => a.status === "pending" || a.status === "extracting");
  useEffect(() => {
    if (!busy) return;
    const t = setInterval(() => void load(), 1000);
    return () => clearInterval(t);
  }, [busy, messageId]);

  async function upload(files: FileList | null) {
    setError("");
    for (const f of Array.from(files ?? [])) {
      setUploads((u) => [...u, { name: f.name, sent: 0, total: f.size }]);
      try {
        const a = await uploadAttachment(messageId, f, (sent, total) => setUploads((u) => u.map((x) => (x.name === f.name ? { ...x, sent, total } : x))));
        setItems((l) => [...l, a]);
      } catch (e) {
        setError(`${f.name}: ${errorText(e)}`);
      } finally {
        setUploads((u) => u.filter((x) => x.name !== f.name));
      }
    }
    if (input.current) input.current.value = "";
    void load();
  }

  async function remove(a: Attachment) {
    try {
      await rest.deleteAttachment(a.id);
      setItems((l) => l.filter((x) => x.id !== a.id));
    } catch (e) {
      setError(errorText(e));
    }
  }

  if (!items.length && !uploads.length && !canAttach && !error) return null;
  return (
    <div class="attachments">
      {(items.length > 0 || uploads.length > 0) && (
        <ul class="att-list" aria-label="Attachments">
          {items.map((a) => {
            const active = a.status === "pending" || a.status === "extracting";
            return (
              <li key={a.id} class={"att " + a.status} data-status={a.status}>
                <Icon name="paperclip" size={14} />
                <span class="att-name">{a.file_name}</span>
                <span class="att-meta">
                  {a.file_type.toUpperCase()} · {fileSize(a.file_size)}
                  {typeof a.metadata?.pages === "number" ? ` · ${a.metadata.pages} page${a.metadata.pages === 1 ? "" : "s"}` : ""}
                </span>
                <span class={"pill " + (a.status === "ready" ? "active" : a.status === "failed" ? "revoked" : "")}>{STATUS[a.status] ?? a.status}</span>
                {active && (
                  <progress max={100} value={a.progress} aria-label={`Reading ${a.file_name}`}>
                    {a.progress}%
                  </progress>
                )}
                <button type="button" class="icon-btn" aria-label={`Download ${a.file_name}`} title="Download" onClick={() => void saveFile(a).catch((e) => setError(errorText(e)))}>
                  <Icon name="download" size={16} />
                </button>
                <button type="button" class="icon-btn" aria-label={`Remove ${a.file_name}`} title="Remove" onClick={() => void remove(a)}>
                  <Icon name="trash" size={16} />
                </button>
                {a.status === "failed" && a.error && <span class="att-error">{a.error.message}</span>}
              </li>
            );
          })}
          {uploads.map((u) => (
            <li key={"up-" + u.name} class="att uploading">
              <Icon name="paperclip" size={14} />
              <span class="att-name">{u.name}</span>
              <span class="att-meta">Uploading {u.total ? Math.round((100 * u.sent) / u.total) : 0}%</span>
              <progress max={u.total || 1} value={u.sent} aria-label={`Uploading ${u.name}`} />
            </li>
          ))}
        </ul>
      )}
      {error && (
        <p class="att-error" role="alert">
          {error}
        </p>
      )}
      {canAttach && (
        <>
          <input ref={input} type="file" class="sr-only" tabIndex={-1} aria-hidden="true" multiple accept=".pdf,.txt,.md,.png,.jpg,.jpeg,.gif,.docx" onChange={(e) => void upload((e.target as HTMLInputElement).files)} />
          <button type="button" class="btn small ghost attach-btn" onClick={() => input.current?.click()}>
            <Icon name="paperclip" size={14} /> Attach a file
          </button>
        </>
      )}
    </div>
  );
}

/** Fetches the file with the access token and hands it to the browser as
 * a download under its own name. */
async function saveFile(a: Attachment): Promise<void> {
  const r = await authFetch(a.file_url);
  if (!r.ok) throw new Error(`The download failed (HTTP ${r.status}).`);
  const url = URL.createObjectURL(await r.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = a.file_name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Folders in the sidebar: a tree the user opens and closes, conversations
// filed inside each; drag a conversation or a folder onto a folder to move
// it there (onto "Folders" for the top level, onto the list below to take
// a conversation out). Every move also has a button and a picker, so the
// keyboard can do all of it.

import { useEffect, useRef, useState } from "preact/hooks";
import type { ChatStore } from "../chat";
import { flatten, wouldCycle, type FolderStore } from "../folders";
import { useStore } from "../hooks";
import type { Conversation, FolderNode } from "../types";
import { Icon } from "./icons";

export const CONV_TYPE = "application/x-medstream-conversation";
export const FOLDER_TYPE = "application/x-medstream-folder";

/** Whether a drag carries `type` ("" while dragging over: browsers hide the
 * value until the drop), undefined when it does not. */
export function dragData(e: DragEvent, type: string): string | undefined {
  const dt = e.dataTransfer;
  if (!dt || !Array.from(dt.types).includes(type)) return undefined;
  return dt.getData(type);
}

function NameInput({ label, initial, onDone }: { label: string; initial: string; onDone: (name: string | null) => void }) {
  const [v, setV] = useState(initial);
  const ref = useRef<HTMLInputElement>(null);
  const done = useRef(false);
  useEffect(() => ref.current?.select(), []);
  const finish = (save: boolean) => {
    if (done.current) return;
    done.current = true;
    onDone(save && v.trim() ? v.trim() : null);
  };
  return (
    <input
      ref={ref}
      class="name-input"
      aria-label={label}
      value={v}
      maxLength={100}
      onInput={(e) => setV((e.target as HTMLInputElement).value)}
      onKeyDown={(e) => {
        if (e.key === "Enter") finish(true);
        if (e.key === "Escape") finish(false);
      }}
      onBlur={() => finish(true)}
    />
  );
}

/** A folder picker: "No folder" (the top level) and every folder, indented
 * by depth. onDone(undefined) is a cancel. */
export function MoveMenu({ label, folders, current, exclude, onDone }: { label: string; folders: FolderStore; current: string | null; exclude?: string; onDone: (target: string | null | undefined) => void }) {
  const f = useStore(folders, () => folders.state);
  const [v, setV] = useState(current ?? "");
  const ref = useRef<HTMLSelectElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const options = flatten(f.tree).filter(({ f: x }) => !exclude || !wouldCycle(f.tree, exclude, x.id));
  return (
    <form
      class="move-menu"
      onSubmit={(e) => {
        e.preventDefault();
        onDone(v || null);
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.stopPropagation();
          onDone(undefined);
        }
      }}
    >
      <label>
        <span class="sr-only">{label}</span>
        <select ref={ref} value={v} onChange={(e) => setV((e.target as HTMLSelectElement).value)} aria-label={label}>
          <option value="">{exclude ? "Top level" : "No folder"}</option>
          {options.map(({ f: x, depth }) => (
            <option key={x.id} value={x.id}>{"\u2003".repeat(depth) + x.name}</option>
          ))}
        </select>
      </label>
      <button type="submit" class="btn small primary">Move</button>
      <button type="button" class="btn small ghost" onClick={() => onDone(undefined)}>Cancel</button>
    </form>
  );
}

interface TreeProps {
  folders: FolderStore;
  store: ChatStore;
  onOpen: (id: string) => void;
  renderConv: (c: Conversation) => preact.ComponentChildren;
}

export function FolderTree({ folders, store, renderConv }: TreeProps) {
  const f = useStore(folders, () => folders.state);
  const s = useStore(store, () => store.state);
  const [creating, setCreating] = useState(false);
  const [drop, setDrop] = useState(false);
  useEffect(() => {
    if (!f.loaded) void folders.load();
  }, []);
  const byFolder = new Map<string, Conversation[]>();
  for (const c of s.conversations) if (c.folder_id) byFolder.set(c.folder_id, [...(byFolder.get(c.folder_id) ?? []), c]);
  return (
    <section class="folders" aria-labelledby="folders-h">
      <div
        class={"folders-head" + (drop ? " drop" : "")}
        onDragOver={(e) => {
          if (dragData(e, FOLDER_TYPE) !== undefined) {
            e.preventDefault();
            setDrop(true);
          }
        }}
        onDragLeave={() => setDrop(false)}
        onDrop={(e) => {
          setDrop(false);
          const id = e.dataTransfer?.getData(FOLDER_TYPE);
          if (id) {
            e.preventDefault();
            void folders.move(id, null);
          }
        }}
      >
        <h2 id="folders-h">Folders</h2>
        <button type="button" class="icon-btn" aria-label="New folder" title="New folder" onClick={() => setCreating(true)}>
          <Icon name="folderPlus" size={16} />
        </button>
      </div>
      {f.error && (
        <p class="folder-error" role="alert">
          {f.error}{" "}
          <button type="button" class="link" onClick={() => folders.dismissError()}>Dismiss</button>
        </p>
      )}
      {creating && (
        <NameInput
          label="New folder name"
          initial=""
          onDone={(name) => {
            setCreating(false);
            if (name) void folders.create(name, null);
          }}
        />
      )}
      {f.loaded && !f.tree.length && !creating && <p class="list-note">Drag a conversation onto a folder to file it.</p>}
      <ul class="folder-tree">
        {f.tree.map((n) => (
          <FolderItem key={n.id} n={n} folders={folders} byFolder={byFolder} renderConv={renderConv} />
        ))}
      </ul>
    </section>
  );
}

function FolderItem({ n, folders, byFolder, renderConv }: { n: FolderNode; folders: FolderStore; byFolder: Map<string, Conversation[]>; renderConv: TreeProps["renderConv"] }) {
  const f = useStore(folders, () => folders.state);
  const [mode, setMode] = useState<"rename" | "sub" | "move" | null>(null);
  const [drop, setDrop] = useState(false);
  const open = f.open.has(n.id);
  const convs = byFolder.get(n.id) ?? [];
  const count = n.conversation_count;
  return (
    <li class="folder" data-folder-id={n.id}>
      <div
        class={"folder-row" + (drop ? " drop" : "")}
        draggable={mode === null}
        onDragStart={(e) => {
          e.stopPropagation();
          e.dataTransfer?.setData(FOLDER_TYPE, n.id);
          if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
        }}
        onDragOver={(e) => {
          if (dragData(e, CONV_TYPE) !== undefined || dragData(e, FOLDER_TYPE) !== undefined) {
            e.preventDefault();
            e.stopPropagation();
            setDrop(true);
          }
        }}
        onDragLeave={() => setDrop(false)}
        onDrop={(e) => {
          setDrop(false);
          const conv = e.dataTransfer?.getData(CONV_TYPE);
          const folder = e.dataTransfer?.getData(FOLDER_TYPE);
          if (!conv && !folder) return;
          e.preventDefault();
          e.stopPropagation();
          if (conv) void folders.file(conv, n.id);
          else if (folder && folder !== n.id) void folders.move(folder, n.id);
        }}
      >
        {mode === "rename" ? (
          <NameInput
            label="Rename folder"
            initial={n.name}
            onDone={(name) => {
              setMode(null);
              if (name && name !== n.name) void folders.rename(n.id, name);
            }}
          />
        ) : (
          <button type="button" class="folder-toggle" aria-expanded={open} onClick={() => folders.toggle(n.id)} draggable={false}>
            <Icon name={open ? "chevronDown" : "chevronRight"} size={14} />
            <Icon name="folder" size={16} />
            <span class="folder-name">{n.name}</span>
            {count > 0 && (
              <span class="count">
                {count}
                <span class="sr-only"> conversation{count === 1 ? "" : "s"}</span>
              </span>
            )}
          </button>
        )}
        <span class="conv-actions">
          <button type="button" class="icon-btn" aria-label={`New folder in “${n.name}”`} title="New subfolder" onClick={() => setMode("sub")}>
            <Icon name="folderPlus" size={16} />
          </button>
          <button type="button" class="icon-btn" aria-label={`Rename folder “${n.name}”`} title="Rename" onClick={() => setMode("rename")}>
            <Icon name="pencil" size={16} />
          </button>
          <button type="button" class="icon-btn" aria-label={`Move folder “${n.name}”`} title="Move" onClick={() => setMode("move")}>
            <Icon name="move" size={16} />
          </button>
          <button type="button" class="icon-btn" aria-label={`Delete folder “${n.name}”`} title="Delete (its contents move up)" onClick={() => void folders.remove(n.id)}>
            <Icon name="trash" size={16} />
          </button>
        </span>
      </div>
      {mode === "move" && (
        <MoveMenu
          label={`Move folder “${n.name}” into`}
          folders={folders}
          current={n.parent_folder_id}
          exclude={n.id}
          onDone={(target) => {
            setMode(null);
            if (target !== undefined) void folders.move(n.id, target);
          }}
        />
      )}
      {mode === "sub" && (
        <NameInput
          label={`New folder in “${n.name}”`}
          initial=""
          onDone={(name) => {
            setMode(null);
            if (name) void folders.create(name, n.id);
          }}
        />
      )}
      {open && (n.children.length > 0 || convs.length > 0) && (
        <ul class="folder-children">
          {n.children.map((c) => (
            <FolderItem key={c.id} n={c} folders={folders} byFolder={byFolder} renderConv={renderConv} />
          ))}
          {convs.map((c) => renderConv(c))}
        </ul>
      )}
      {open && !n.children.length && !convs.length && <p class="list-note nested">Empty folder</p>}
    </li>
  );
}

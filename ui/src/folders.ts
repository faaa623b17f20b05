// The user's folders (docs/protocol.md "Folders"): the tree from
// GET /api/folders/tree, which folders are open, and the moves (a folder
// under another, a conversation into a folder). The server checks cycles,
// depth and sibling names; its error is shown as it comes.

import { rest } from "./api";
import { errorText, type ChatStore } from "./chat";
import type { FolderNode } from "./types";

export interface FolderState {
  tree: FolderNode[];
  loaded: boolean;
  /** Ids of the folders shown open. */
  open: Set<string>;
  error: string | null;
}

/** Depth-first, as a picker lists them: each folder with its depth. */
export function flatten(tree: FolderNode[], depth = 0, out: { f: FolderNode; depth: number }[] = []): { f: FolderNode; depth: number }[] {
  for (const f of tree) {
    out.push({ f, depth });
    flatten(f.children, depth + 1, out);
  }
  return out;
}

/** The folder with this id, or null. */
export function find(tree: FolderNode[], id: string): FolderNode | null {
  for (const f of tree) {
    if (f.id === id) return f;
    const c = find(f.children, id);
    if (c) return c;
  }
  return null;
}

/** True when `target` is `id` itself or inside it: moving `id` there
 * would make a cycle (the server refuses it too: 409 folder_cycle). */
export function wouldCycle(tree: FolderNode[], id: string, target: string | null): boolean {
  if (target === null) return false;
  const f = find(tree, id);
  return !!f && (f.id === target || !!find(f.children, target));
}

export class FolderStore {
  state: FolderState = { tree: [], loaded: false, open: new Set(), error: null };
  private cbs = new Set<() => void>();

  constructor(private chat: ChatStore) {}

  subscribe(cb: () => void): () => void {
    this.cbs.add(cb);
    return () => this.cbs.delete(cb);
  }

  private set(patch: Partial<FolderState>): void {
    this.state = { ...this.state, ...patch };
    for (const cb of this.cbs) cb();
  }

  private async run(f: () => Promise<unknown>, reload = true): Promise<boolean> {
    this.set({ error: null });
    try {
      await f();
      if (reload) await this.load();
      return true;
    } catch (e) {
      this.set({ error: errorText(e) });
      return false;
    }
  }

  async load(): Promise<void> {
    try {
      const r = await rest.folderTree();
      this.set({ tree: r.folders, loaded: true });
    } catch (e) {
      this.set({ loaded: true, error: errorText(e) });
    }
  }

  dismissError(): void {
    this.set({ error: null });
  }

  toggle(id: string, open?: boolean): void {
    const s = new Set(this.state.open);
    if (open ?? !s.has(id)) s.add(id);
    else s.delete(id);
    this.set({ open: s });
  }

  create(name: string, parentId: string | null): Promise<boolean> {
    const n = name.trim();
    if (!n) return Promise.resolve(false);
    return this.run(async () => {
      await rest.createFolder(n.slice(0, 100), parentId);
      if (parentId) this.toggle(parentId, true);
    });
  }

  rename(id: string, name: string): Promise<boolean> {
    const n = name.trim();
    if (!n) return Promise.resolve(false);
    return this.run(() => rest.renameFolder(id, n.slice(0, 100)));
  }

  /** Deletes a folder; its subfolders and conversations move to its parent. */
  remove(id: string): Promise<boolean> {
    return this.run(async () => {
      await rest.deleteFolder(id);
      await this.chat.loadConversations();
    });
  }

  /** Moves a folder under `target` (null: the top level). */
  move(id: string, target: string | null): Promise<boolean> {
    const f = find(this.state.tree, id);
    if (!f || (f.parent_folder_id ?? null) === target) return Promise.resolve(false);
    if (wouldCycle(this.state.tree, id, target)) {
      this.set({ error: "A folder cannot be moved into itself or one of its subfolders." });
      return Promise.resolve(false);
    }
    return this.run(async () => {
      await rest.moveFolder(id, target);
      if (target) this.toggle(target, true);
    });
  }

  /** Files a conversation in a folder (null: in none). */
  file(conversationId: string, folderId: string | null): Promise<boolean> {
    const c = this.chat.state.conversations.find((x) => x.id === conversationId);
    if (c && (c.folder_id ?? null) === folderId) return Promise.resolve(false);
    return this.run(async () => {
      const updated = await rest.file(conversationId, folderId);
      this.chat.replaceConversation(updated);
      if (folderId) this.toggle(folderId, true);
    });
  }
}

// Conversations grouped by date, with search (title and content), rename,
// delete with undo, and a new chat; above them the user's folders
// (FolderTree), into which conversations and folders are dragged (or moved
// with the Move button, for the keyboard).

import { useEffect, useRef, useState } from "preact/hooks";
import type { ChatStore } from "../chat";
import type { FolderStore } from "../folders";
import { useStore } from "../hooks";
import { groupByDate } from "../time";
import type { Conversation } from "../types";
import { CONV_TYPE, FolderTree, MoveMenu, dragData } from "./Folders";
import { Icon, Logo } from "./icons";

interface Props {
  store: ChatStore;
  folders: FolderStore;
  searchRef: { current: HTMLInputElement | null };
  open: boolean;
  onNavigate: () => void;
  children?: preact.ComponentChildren;
}

export function Sidebar({ store, folders, searchRef, open, onNavigate, children }: Props) {
  const s = useStore(store, () => store.state);
  const [dropRoot, setDropRoot] = useState(false);
  const [query, setQuery] = useState(s.search);
  useEffect(() => {
    const t = setTimeout(() => void store.setSearch(query), 200);
    return () => clearTimeout(t);
  }, [query]);

  // While searching, every match; otherwise only the unfiled conversations
  // (filed ones are inside their folders).
  const list = s.searchResults ?? s.conversations.filter((c) => !c.folder_id);
  const groups = groupByDate(list);

  function go(id: string | null) {
    if (id) {
      location.hash = "#/c/" + id;
    } else {
      history.replaceState(null, "", location.pathname);
      store.newChat();
    }
    onNavigate();
  }

  return (
    <nav class={"sidebar" + (open ? " open" : "")} aria-label="Conversations">
      <div class="side-head">
        <a class="brand" href="#/" onClick={(e) => { e.preventDefault(); go(null); }}>
          <Logo />
          <span>medstream</span>
        </a>
      </div>
      <button class="btn new-chat" type="button" onClick={() => go(null)} aria-keyshortcuts="Control+Shift+O Meta+Shift+O">
        <Icon name="plus" /> New chat <kbd class="kbd">Ctrl ⇧ O</kbd>
      </button>
      <div class="search" role="search">
        <Icon name="search" size={16} />
        <label class="sr-only" for="conv-search">Search conversations</label>
        <input
          id="conv-search"
          ref={(el) => { searchRef.current = el; }}
          type="search"
          placeholder="Search chats"
          value={query}
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Escape") setQuery("");
          }}
          aria-keyshortcuts="Control+K Meta+K"
        />
        <kbd class="kbd">Ctrl K</kbd>
      </div>
      <div class="conv-list">
        {s.searchResults && (
          <p class="list-note" role="status">
            {s.searchResults.length ? `${s.searchResults.length} matching conversation${s.searchResults.length === 1 ? "" : "s"}` : "No conversation matches."}
          </p>
        )}
        {!s.searchResults && <FolderTree folders={folders} store={store} onOpen={(id) => go(id)} renderConv={(c) => <ConvItem key={c.id} c={c} current={c.id === s.currentId} store={store} folders={folders} onOpen={() => go(c.id)} />} />}
        {!s.searchResults && s.conversationsLoaded && !s.conversations.length && <p class="list-note">Your conversations will appear here.</p>}
        <div
          class={"unfiled" + (dropRoot ? " drop" : "")}
          onDragOver={(e) => {
            if (!s.searchResults && dragData(e, CONV_TYPE) !== undefined) {
              e.preventDefault();
              setDropRoot(true);
            }
          }}
          onDragLeave={() => setDropRoot(false)}
          onDrop={(e) => {
            setDropRoot(false);
            const id = e.dataTransfer?.getData(CONV_TYPE);
            if (id) {
              e.preventDefault();
              void folders.file(id, null);
            }
          }}
        >
          {groups.map((g) => (
            <section class="conv-group" key={g.label} aria-label={g.label}>
              <h2>{g.label}</h2>
              <ul>
                {g.items.map((c) => (
                  <ConvItem key={c.id} c={c} current={c.id === s.currentId} store={store} folders={folders} onOpen={() => go(c.id)} />
                ))}
              </ul>
            </section>
          ))}
        </div>
      </div>
      {children}
    </nav>
  );
}

function ConvItem({ c, current, store, folders, onOpen }: { c: Conversation; current: boolean; store: ChatStore; folders: FolderStore; onOpen: () => void }) {
  const [editing, setEditing] = useState(false);
  const [moving, setMoving] = useState(false);
  const [title, setTitle] = useState(c.title);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (editing) input.current?.select();
  }, [editing]);

  if (editing) {
    const done = (save: boolean) => {
      setEditing(false);
      if (save && title.trim() && title !== c.title) void store.rename(c.id, title);
      else setTitle(c.title);
    };
    return (
      <li class="conv editing">
        <label class="sr-only" for={"rename-" + c.id}>Rename conversation</label>
        <input
          id={"rename-" + c.id}
          ref={input}
          value={title}
          maxLength={200}
          onInput={(e) => setTitle((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") done(true);
            if (e.key === "Escape") done(false);
          }}
          onBlur={() => done(true)}
        />
      </li>
    );
  }
  if (moving)
    return (
      <li class="conv editing">
        <MoveMenu
          label={`Move “${c.title}” to`}
          folders={folders}
          current={c.folder_id ?? null}
          onDone={(target) => {
            setMoving(false);
            if (target !== undefined) void folders.file(c.id, target);
          }}
        />
      </li>
    );
  return (
    <li
      class={"conv" + (current ? " current" : "")}
      draggable
      data-conversation-id={c.id}
      onDragStart={(e) => {
        e.dataTransfer?.setData(CONV_TYPE, c.id);
        if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
      }}
    >
      <a href={"#/c/" + c.id} aria-current={current ? "page" : undefined} draggable={false} onClick={(e) => { e.preventDefault(); onOpen(); }}>
        {c.title}
      </a>
      <span class="conv-actions">
        <button type="button" class="icon-btn" aria-label={`Move “${c.title}” to a folder`} title="Move to a folder" onClick={() => setMoving(true)}>
          <Icon name="folder" size={16} />
        </button>
        <button type="button" class="icon-btn" aria-label={`Rename “${c.title}”`} title="Rename" onClick={() => { setTitle(c.title); setEditing(true); }}>
          <Icon name="pencil" size={16} />
        </button>
        <button type="button" class="icon-btn" aria-label={`Delete “${c.title}”`} title="Delete" onClick={() => store.remove(c.id)}>
          <Icon name="trash" size={16} />
        </button>
      </span>
    </li>
  );
}

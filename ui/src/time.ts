// Grouping conversations by date, as the sidebar shows them.

import type { Conversation } from "./types";

export interface Group {
  label: string;
  items: Conversation[];
}

function startOfDay(d: Date): number {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/** Today, Yesterday, Previous 7 days, Previous 30 days, then by month. */
export function groupByDate(list: Conversation[], now = new Date()): Group[] {
  const today = startOfDay(now);
  const day = 86400000;
  const groups: Group[] = [];
  const find = (label: string) => {
    let g = groups.find((x) => x.label === label);
    if (!g) groups.push((g = { label, items: [] }));
    return g;
  };
  for (const c of list) {
    const t = new Date(c.updated_at);
    const ts = t.getTime();
    let label: string;
    if (Number.isNaN(ts)) label = "Older";
    else if (ts >= today) label = "Today";
    else if (ts >= today - day) label = "Yesterday";
    else if (ts >= today - 7 * day) label = "Previous 7 days";
    else if (ts >= today - 30 * day) label = "Previous 30 days";
    else label = t.toLocaleDateString(undefined, { month: "long", year: "numeric" });
    find(label).items.push(c);
  }
  return groups;
}

export function shortTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** "2 Dec 2026, 14:05" in the reader's locale; "" for a bad date. */
export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleString(undefined, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
}

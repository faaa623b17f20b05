// The folder tree helpers the sidebar and the move picker rely on.

import { describe, expect, it } from "vitest";
import { find, flatten, wouldCycle } from "../src/folders";
import type { FolderNode } from "../src/types";

const node = (id: string, parent: string | null, children: FolderNode[] = []): FolderNode => ({ id, name: id.toUpperCase(), parent_folder_id: parent, color: null, icon: null, conversation_count: 0, created_at: "", updated_at: "", children });

const tree = [node("a", null, [node("b", "a", [node("c", "b")]), node("d", "a")]), node("e", null)];

describe("folders", () => {
  it("lists the tree depth first with each folder's depth", () => {
    expect(flatten(tree).map(({ f, depth }) => f.id + depth)).toEqual(["a0", "b1", "c2", "d1", "e0"]);
  });
  it("finds nested folders", () => {
    expect(find(tree, "c")?.parent_folder_id).toBe("b");
    expect(find(tree, "zz")).toBeNull();
  });
  it("a folder cannot go into itself or a descendant; anywhere else is fine", () => {
    expect(wouldCycle(tree, "a", "a")).toBe(true);
    expect(wouldCycle(tree, "a", "c")).toBe(true);
    expect(wouldCycle(tree, "b", "c")).toBe(true);
    expect(wouldCycle(tree, "c", "a")).toBe(false);
    expect(wouldCycle(tree, "b", "e")).toBe(false);
    expect(wouldCycle(tree, "a", null)).toBe(false);
  });
});

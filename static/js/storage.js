/* What the inbox keeps in this browser's localStorage (the composer's drafts and its tray of
 * uploaded files): read, written and pruned one way, and never failing the page when storage is
 * full, blocked or holds something unreadable. */

/** The value kept under `name`, or null. */
export function stored(name) {
  try {
    return JSON.parse(localStorage.getItem(name));
  } catch (e) {
    return null;
  }
}

/** Keep `value` under `name` (null: forget it). */
export function store(name, value) {
  try {
    if (value === null) localStorage.removeItem(name);
    else localStorage.setItem(name, JSON.stringify(value));
  } catch (e) {
    /* storage full or blocked: the value still lives in this tab */
  }
}

/** Forget every value under a name starting with `prefix` that `isStale(value)` says is old
 * (and any that cannot be read). */
export function pruneStored(prefix, isStale) {
  for (let i = localStorage.length - 1; i >= 0; i -= 1) {
    const name = localStorage.key(i);
    if (!name || !name.startsWith(prefix)) continue;
    const value = stored(name);
    if (value === null || isStale(value)) localStorage.removeItem(name);
  }
}

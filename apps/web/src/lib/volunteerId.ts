const KEY = 'tabgrid.volunteerId';

/** 32 hex chars; getRandomValues works outside secure contexts too (unlike randomUUID). */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `v_${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** A persistent volunteer id ([A-Za-z0-9_-], protocol `id`), so a reconnect or reload is the same volunteer. */
export function getVolunteerId(): string {
  try {
    const existing = localStorage.getItem(KEY);
    if (existing && /^[A-Za-z0-9_-]{1,64}$/.test(existing)) return existing;
    const fresh = randomId();
    localStorage.setItem(KEY, fresh);
    return fresh;
  } catch {
    return randomId(); // storage disabled: per-tab id
  }
}

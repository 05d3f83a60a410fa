// The signed-in user. Kept in sessionStorage: it survives a reload but not closing the tab.

const KEY = "gasguard.session";
const RANK = { viewer: 0, operator: 1, admin: 2 };

export function loadSession() {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const session = JSON.parse(raw);
    if (!session.token || !session.username || !(session.role in RANK)) return null;
    if (session.expires_at && session.expires_at * 1000 < Date.now()) return null;
    return session;
  } catch {
    return null;
  }
}

/** Accepts the login answer in either shape: top-level username/role, or a nested `user` object. */
export function sessionFromLogin(body) {
  const user = body.user || {};
  return {
    token: body.access_token,
    username: user.username || body.username,
    role: user.role || body.role,
    expires_at: body.expires_at ?? null,
  };
}

export function saveSession(session) {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

/** Whether `role` is at least `needed` (viewer < operator < admin). */
export function hasRole(role, needed) {
  return (RANK[role] ?? -1) >= RANK[needed];
}

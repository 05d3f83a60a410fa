// GasGuard dashboard entry point: sign-in, screens, the live feed, and the alarm cue.
// Plain ES modules, no build step: the service serves this folder as it is.

import { Annunciator, isUnacked } from "./js/alarms.js";
import { api, ApiError, setToken, setUnauthorizedHandler } from "./js/api.js";
import { LiveConnection } from "./js/live.js";
import { clearSession, hasRole, loadSession, saveSession, sessionFromLogin } from "./js/session.js";
import { beep, isMuted, setMuted, unlockAudio } from "./js/sound.js";
import { store } from "./js/store.js";
import { h } from "./js/ui.js";
import { adminView } from "./js/views/admin.js";
import { alarmsView } from "./js/views/alarms.js";
import { camerasView } from "./js/views/cameras.js";
import { eventsView } from "./js/views/events.js";
import { healthView } from "./js/views/health.js";
import { historyView } from "./js/views/history.js";
import { overviewView } from "./js/views/overview.js";
import { valvesView } from "./js/views/valves.js";
import { newAlarmNotice } from "./js/words.js";

const VIEWS = [overviewView, alarmsView, valvesView, camerasView, historyView, eventsView, healthView, adminView];
const NOTICE_KEY = "gasguard.notice";
const BEEP_REPEAT_MS = 20000;
const SPARK_HISTORY_S = 900;
const QUIET_TOAST_MS = 8000;

const $ = (id) => document.getElementById(id);

let session = null;
let live = null;
let unmount = null;
let currentView = null;
let refreshing = null;
let refreshAgain = false;
let refreshTimer = null;
let outputsLoading = null;
let outputsAgain = false;
let outputsTimer = null;
let beepTimer = null;
let staleTimer = null;
let wasLive = false;
let sparksSeeded = false;
let toastTimer = null;
const annunciator = new Annunciator();

const ctx = {
  get role() {
    return session ? session.role : null;
  },
  get username() {
    return session ? session.username : null;
  },
  can: (needed) => Boolean(session) && hasRole(session.role, needed),
  refresh: () => refresh(),
  refreshOutputs: () => refreshOutputs(),
  announce: (text, tone) => announce(text, tone),
};

// ------------------------------------------------------------------ sign-in

function showLogin(message) {
  $("app-screen").hidden = true;
  $("login-screen").hidden = false;
  const error = $("login-error");
  error.textContent = message || "";
  error.hidden = !message;
  $("login-username").focus();
}

async function onLoginSubmit(event) {
  event.preventDefault();
  unlockAudio();
  const button = $("login-submit");
  const error = $("login-error");
  button.disabled = true;
  error.hidden = true;
  try {
    const body = await api("/api/v1/auth/login", {
      method: "POST",
      body: { username: $("login-username").value.trim(), password: $("login-password").value },
    });
    session = sessionFromLogin(body);
    saveSession(session);
    $("login-password").value = "";
    startApp();
    $("main").focus(); // keyboard and screen-reader users continue in the content, not on a hidden form
  } catch (err) {
    error.textContent = err instanceof ApiError ? err.detail : String(err);
    error.hidden = false;
    $("login-password").focus();
  } finally {
    button.disabled = false;
  }
}

async function signOut(notice) {
  if (live) live.stop();
  if (!notice) {
    try {
      await api("/api/v1/auth/logout", { method: "POST" });
    } catch {
      // the session ends locally either way
    }
  }
  clearSession();
  if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
  location.hash = "";
  location.reload();
}

// ------------------------------------------------------------------ the app

function startApp() {
  setToken(session.token);
  setUnauthorizedHandler(() => signOut("Your session has ended. Sign in again."));
  $("login-screen").hidden = true;
  $("app-screen").hidden = false;
  $("whoami").textContent = `${session.username} (${session.role})`;
  document.body.dataset.role = session.role;
  buildNav();
  updateMuteButton();
  route();
  window.addEventListener("hashchange", route);
  refresh();
  live = new LiveConnection({
    token: session.token,
    onSnapshot: (message) => {
      store.setView(message.data);
      seedSparks();
      refreshOutputs(); // a (re)connect may have missed output messages
    },
    onEvent: onLiveEvent,
    onAuthRejected: () => signOut("Your session has ended. Sign in again."),
  });
  live.start();
}

function buildNav() {
  const list = $("nav-list");
  list.replaceChildren(
    ...VIEWS.filter((v) => !v.minRole || ctx.can(v.minRole)).map((v) =>
      h("li", {}, h("a", { href: `#/${v.id}`, testid: `nav-${v.id}`, "data-view": v.id, text: v.navTitle || v.title })),
    ),
  );
}

function route() {
  const wanted = (location.hash || "").replace(/^#\/?/, "") || "overview";
  const view = VIEWS.find((v) => v.id === wanted && (!v.minRole || ctx.can(v.minRole))) || overviewView;
  if (view === currentView) return;
  if (unmount) unmount();
  currentView = view;
  const root = $("main");
  root.replaceChildren();
  root.dataset.view = view.id;
  unmount = view.mount(root, ctx) || null;
  for (const link of document.querySelectorAll("#nav-list a")) {
    if (link.dataset.view === view.id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${view.title} · GasGuard`;
}

/** Fetch the whole picture once; calls made while one is running coalesce into one more. */
function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      do {
        refreshAgain = false;
        const view = await api("/api/v1/site");
        store.setView(view);
      } while (refreshAgain);
      $("service-note").hidden = true;
    } catch (err) {
      if (err instanceof ApiError && err.status !== 401) {
        $("service-note").textContent = `Live data unavailable: ${err.detail}`;
        $("service-note").hidden = false;
      }
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** Fetch the outputs (sounders, beacons, fans, relays); calls while one runs coalesce into one more. */
function refreshOutputs() {
  if (outputsLoading) {
    outputsAgain = true;
    return outputsLoading;
  }
  outputsLoading = (async () => {
    try {
      do {
        outputsAgain = false;
        store.outputsError = null;
        store.setOutputs(await api("/api/v1/outputs"));
      } while (outputsAgain);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) {
        store.outputsError = err instanceof ApiError ? err.detail : String(err);
        store.emit("outputs");
      }
    } finally {
      outputsLoading = null;
    }
  })();
  return outputsLoading;
}

function scheduleOutputs() {
  clearTimeout(outputsTimer);
  outputsTimer = setTimeout(refreshOutputs, 100);
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 100);
}

function onLiveEvent(message) {
  switch (message.type) {
    case "reading":
      store.applyReading(message.data);
      break;
    case "identification":
      store.applyIdentification(message.data);
      break;
    case "camera":
      store.applyCamera(message.data);
      break;
    case "alarm":
    case "valve":
    case "trip":
    case "operator":
    case "health":
      scheduleRefresh();
      break;
    case "output":
      scheduleOutputs();
      break;
    default:
      break;
  }
  store.emit("event", message);
}

/** Fill the sparklines with the last minutes of stored readings, once per page load. */
async function seedSparks() {
  if (sparksSeeded) return;
  sparksSeeded = true;
  const end = Date.now() / 1000;
  const channels = [...store.zones.values()].flatMap((z) => z.channels || []);
  await Promise.all(
    channels.map(async (ch) => {
      try {
        const body = await api(
          `/api/v1/readings?channel=${encodeURIComponent(ch.id)}&start=${end - SPARK_HISTORY_S}&end=${end}&max_points=60`,
        );
        const scale = ch.value ? ch.lel_pct / ch.value : null;
        const points = (body.points || [])
          .filter((p) => typeof p.value === "number")
          .map((p) => [p.ts, scale === null ? null : p.value * scale])
          .filter((p) => p[1] !== null);
        if (points.length) store.seedSpark(ch.id, points);
      } catch {
        // history is a nicety here; live points still arrive
      }
    }),
  );
  store.emit("zones");
}

// ------------------------------------------------------------------ alarm cue and connection

function onZonesChanged() {
  const alarms = store.alarms();
  const unacked = alarms.filter(isUnacked);
  const pill = $("alarm-pill");
  pill.dataset.count = String(unacked.length);
  pill.textContent =
    unacked.length === 0
      ? `Alarms: ${alarms.length} active`
      : `${unacked.length} unacknowledged alarm${unacked.length === 1 ? "" : "s"}`;
  pill.classList.toggle("alarming", unacked.length > 0);
  const site = store.sites[0];
  $("site-name").textContent = site ? site.name || site.id : "";

  const fresh = annunciator.update(alarms);
  if (fresh.length) {
    announce(newAlarmNotice(fresh[0], fresh.length - 1), "alarm");
    pill.classList.remove("flash");
    void pill.offsetWidth; // restart the CSS animation
    pill.classList.add("flash");
    beep();
  }
  clearInterval(beepTimer);
  beepTimer = unacked.length ? setInterval(beep, BEEP_REPEAT_MS) : null;
}

/**
 * Say something to the person on shift: read out by screen readers and shown as a notice.
 * tone "alarm" (red, stays until dismissed) is for alarms and refusals; "ok" (green) and "info"
 * (neutral) are for things that went as asked, and fade after a few seconds.
 */
function announce(text, tone = "info") {
  const el = $("announcer");
  el.textContent = "";
  // A fresh text node after a tick makes screen readers read the message even if it repeats.
  setTimeout(() => {
    el.textContent = text;
  }, 50);
  const toast = $("toast");
  $("toast-text").textContent = text;
  toast.dataset.tone = tone;
  toast.hidden = false;
  // Room below the page for the notice, so it never sits for good on the last controls (a phone's pager).
  document.body.style.paddingBottom = `${toast.offsetHeight + 16}px`;
  clearTimeout(toastTimer);
  if (tone !== "alarm") toastTimer = setTimeout(hideToast, QUIET_TOAST_MS);
}

function hideToast() {
  clearTimeout(toastTimer);
  $("toast").hidden = true;
  document.body.style.paddingBottom = "";
}

function onConnection({ state, retryAt }) {
  const indicator = $("conn-status");
  indicator.dataset.state = state;
  const labels = {
    connecting: "Connecting…",
    live: "Live",
    reconnecting: "Reconnecting…",
    stale: "Disconnected",
    rejected: "Signed out",
  };
  indicator.textContent = labels[state] || state;
  if (state === "live") wasLive = true;
  const banner = $("stale-banner");
  const stale = state === "stale" || (state === "reconnecting" && wasLive);
  banner.hidden = !stale;
  document.body.classList.toggle("is-stale", stale);
  clearInterval(staleTimer);
  if (state === "stale") {
    const tick = () => {
      const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      $("stale-text").textContent =
        `Live connection lost: the values shown may be out of date. Reconnecting in ${s} s…`;
    };
    tick();
    staleTimer = setInterval(tick, 1000);
  } else if (stale) {
    $("stale-text").textContent = "Live connection lost: the values shown may be out of date. Reconnecting…";
  }
}

function updateMuteButton() {
  const button = $("mute-toggle");
  const muted = isMuted();
  button.setAttribute("aria-pressed", String(muted));
  button.textContent = muted ? "Sound off" : "Sound on";
}

// ------------------------------------------------------------------ boot

function boot() {
  $("login-form").addEventListener("submit", onLoginSubmit);
  $("logout").addEventListener("click", () => signOut());
  $("mute-toggle").addEventListener("click", () => {
    unlockAudio();
    setMuted(!isMuted());
    updateMuteButton();
  });
  $("alarm-pill").addEventListener("animationend", (event) => event.currentTarget.classList.remove("flash"));
  $("alarm-pill").addEventListener("click", () => {
    unlockAudio();
    location.hash = "#/alarms";
  });
  $("stale-reconnect").addEventListener("click", () => live && live.reconnectNow());
  $("toast-close").addEventListener("click", hideToast);
  document.addEventListener("click", unlockAudio, { once: true });
  document.addEventListener("keydown", unlockAudio, { once: true });
  store.on("zones", onZonesChanged);
  store.on("connection", onConnection);

  const notice = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  session = loadSession();
  if (session) startApp();
  else showLogin(notice);
}

boot();

// The audible alarm cue: a short two-tone beep from WebAudio (no sound file to load).
// Browsers only allow audio after a user gesture, so the context is unlocked on sign-in.

const MUTE_KEY = "gasguard.muted";
let context = null;

export function isMuted() {
  return localStorage.getItem(MUTE_KEY) === "1";
}

export function setMuted(muted) {
  localStorage.setItem(MUTE_KEY, muted ? "1" : "0");
}

/** Create or resume the audio context; call from a click or key handler. */
export function unlockAudio() {
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!context) context = new Ctx();
    if (context.state === "suspended") context.resume();
  } catch (err) {
    console.warn("audio unavailable", err);
  }
}

/** Play the alarm beep unless muted. Returns whether a sound was scheduled. */
export function beep() {
  if (isMuted() || !context || context.state !== "running") return false;
  const start = context.currentTime;
  [880, 660].forEach((freq, i) => {
    const osc = context.createOscillator();
    const gain = context.createGain();
    osc.type = "square";
    osc.frequency.value = freq;
    const t = start + i * 0.22;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.2);
    osc.connect(gain).connect(context.destination);
    osc.start(t);
    osc.stop(t + 0.21);
  });
  return true;
}

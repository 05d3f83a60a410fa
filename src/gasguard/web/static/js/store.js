// The dashboard's live picture of the plant, fed by the REST snapshot and WebSocket events.
// Views subscribe to topics and redraw only what changed.

const SPARK_POINTS = 120;

class Store {
  constructor() {
    this.reset();
    this.listeners = new Map();
  }

  reset() {
    this.ts = null;
    this.sites = [];
    /** @type {Map<string, object>} zone id -> ZoneView */
    this.zones = new Map();
    /** @type {Map<string, Array<[number, number]>>} channel id -> [[ts, %LEL], ...] */
    this.sparks = new Map();
    /** @type {Map<string, object>} camera id -> latest camera summary */
    this.cameras = new Map();
    /** @type {Map<string, object>} output id -> GET /api/v1/outputs row (for names in sentences) */
    this.outputs = new Map();
    /** null until the first answer; then whether outputs came, or why not (outputsError) */
    this.outputsLoaded = false;
    this.outputsError = null;
    this.signature = null;
    this.connection = "connecting";
    this.lastMessageAt = null;
  }

  on(topic, handler) {
    if (!this.listeners.has(topic)) this.listeners.set(topic, new Set());
    this.listeners.get(topic).add(handler);
    return () => this.listeners.get(topic).delete(handler);
  }

  emit(topic, detail) {
    for (const handler of this.listeners.get(topic) || []) {
      try {
        handler(detail);
      } catch (err) {
        console.error(`listener for ${topic} failed`, err);
      }
    }
  }

  /** Replace the whole picture with `runtime.view()` (snapshot or GET /api/v1/site). */
  setView(view) {
    this.ts = view.ts ?? null;
    this.sites = (view.sites || []).map((s) => ({ id: s.id, name: s.name }));
    const zones = new Map();
    for (const site of view.sites || []) {
      for (const zone of site.zones || []) zones.set(zone.id, { ...zone, site: zone.site || site.id });
    }
    this.zones = zones;
    for (const zone of zones.values()) {
      for (const ch of zone.channels || []) {
        if (ch.lel_pct !== null && ch.lel_pct !== undefined && ch.ts) this.pushSpark(ch.id, ch.ts, ch.lel_pct);
      }
    }
    // Redraw only when something changed: an unchanged picture must not disturb a reader or a keyboard user.
    const signature = JSON.stringify([this.sites, [...zones.values()]]);
    if (signature === this.signature) return;
    this.signature = signature;
    this.emit("zones");
  }

  channel(channelId) {
    for (const zone of this.zones.values()) {
      const ch = (zone.channels || []).find((c) => c.id === channelId);
      if (ch) return { zone, channel: ch };
    }
    return null;
  }

  pushSpark(channelId, ts, lel) {
    if (typeof lel !== "number" || !Number.isFinite(lel)) return;
    const points = this.sparks.get(channelId) || [];
    const last = points[points.length - 1];
    if (last && ts < last[0]) return; // older than what we show: ignore
    if (last && ts === last[0]) last[1] = lel;
    else points.push([ts, lel]);
    if (points.length > SPARK_POINTS) points.splice(0, points.length - SPARK_POINTS);
    this.sparks.set(channelId, points);
  }

  /** Seed a sparkline from stored history; live points already held are kept. */
  seedSpark(channelId, points) {
    const live = this.sparks.get(channelId) || [];
    const first = live.length ? live[0][0] : Infinity;
    const merged = points.filter(([ts]) => ts < first).concat(live);
    this.sparks.set(channelId, merged.slice(-SPARK_POINTS));
  }

  applyReading(reading) {
    const found = this.channel(reading.channel);
    if (!found) return;
    const { channel } = found;
    if (channel.ts && reading.ts < channel.ts) return;
    channel.value = reading.value;
    channel.lel_pct = reading.lel_pct;
    channel.ts = reading.ts;
    this.pushSpark(reading.channel, reading.ts, reading.lel_pct);
    this.emit("reading", reading.channel);
  }

  applyIdentification(ident) {
    const zone = this.zones.get(ident.zone);
    if (!zone) return;
    zone.identification = { ...(zone.identification || {}), ...ident };
    this.emit("identification", ident.zone);
  }

  applyCamera(camera) {
    this.cameras.set(camera.camera, { ...(this.cameras.get(camera.camera) || {}), ...camera });
    this.emit("camera", camera.camera);
  }

  /** The outputs as GET /api/v1/outputs lists them. */
  setOutputs(outputs) {
    this.outputs = new Map((outputs || []).map((o) => [o.id, o]));
    this.outputsLoaded = true;
    this.emit("outputs");
  }

  setConnection(state, detail) {
    this.connection = state;
    this.emit("connection", { state, ...detail });
  }

  /** Every active alarm across zones, with the zone's name attached. */
  alarms() {
    const out = [];
    for (const zone of this.zones.values()) {
      for (const alarm of zone.alarms || []) out.push({ ...alarm, zone: alarm.zone || zone.id, zoneName: zone.name });
    }
    return out;
  }
}

export const store = new Store();

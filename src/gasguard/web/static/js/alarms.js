// Alarm ordering and annunciation after ISA-18.2: unacknowledged alarms first, then by priority.

const PRIORITY = { A3: 0, A2: 1, VALVE_FAULT: 2, FAULT: 3, ML: 4, ROR: 5, A1: 6 };
const UNACKED = new Set(["unacknowledged", "returned_unacknowledged"]);

export function isUnacked(alarm) {
  return UNACKED.has(alarm.state) || (alarm.acked === false && alarm.state !== "shelved" && alarm.state !== "out_of_service");
}

export function priorityOf(alarm) {
  return PRIORITY[alarm.level] ?? 9;
}

/** Unacknowledged first, then priority (A3 highest), then zone and id for a stable order. */
export function sortAlarms(alarms) {
  return [...alarms].sort(
    (a, b) =>
      Number(isUnacked(b)) - Number(isUnacked(a)) ||
      priorityOf(a) - priorityOf(b) ||
      String(a.zone).localeCompare(String(b.zone)) ||
      String(a.id).localeCompare(String(b.id)),
  );
}

/**
 * Tracks which unacknowledged alarms the operator has already been told about, so a cue sounds once
 * per new alarm (and again when an alarm returns to unacknowledged).
 */
export class Annunciator {
  constructor() {
    this.known = new Set();
  }

  /** Returns the alarms that became unacknowledged since the last call. */
  update(alarms) {
    const now = new Set();
    const fresh = [];
    for (const alarm of alarms) {
      if (!isUnacked(alarm)) continue;
      const key = `${alarm.id}|${alarm.state}`;
      now.add(key);
      if (!this.known.has(key)) fresh.push(alarm);
    }
    this.known = now;
    return fresh;
  }

  reset() {
    this.known = new Set();
  }
}

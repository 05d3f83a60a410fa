// Zone reset, offered wherever a person meets the need for it: the Alarms screen's list of zones to
// reset, and beside a valve whose "Open…" waits for one. One rule for every reopen: a valve opens only
// after an accepted zone reset (the safety core re-checks the gas then), with a reason.

import { api, ApiError } from "./api.js";
import { confirmWithReason } from "./dialog.js";

/** Valve states from which "Open…" can be asked for (the core still has the final word). */
export const OPENABLE = new Set(["closed", "fault", "unknown", "closing"]);

/** Whether this valve may be opened only after its zone is reset (tripped, or closed by hand). */
export function valveNeedsReset(valve) {
  return !valve.open_permitted && OPENABLE.has(valve.state || "unknown");
}

/** Zones an operator has to reset: tripped, with latched alarms, or with a valve waiting for a reset. */
export function zoneNeedsReset(zone) {
  return (
    Boolean(zone.tripped) ||
    (zone.alarms || []).some((a) => a.latched) ||
    (zone.valves || []).some((v) => valveNeedsReset(v))
  );
}

/** Why the zone is on the reset list, in a sentence for the person on shift. */
export function resetWhy(zone) {
  if (zone.tripped) return `tripped${zone.trip_cause ? ` (${zone.trip_cause})` : ""}`;
  if ((zone.alarms || []).some((a) => a.latched)) return "alarms latched";
  const closed = (zone.valves || []).filter((v) => valveNeedsReset(v)).map((v) => v.name || v.id);
  return `${closed.join(", ")} closed; ${closed.length === 1 ? "it opens" : "they open"} again only after a reset`;
}

/**
 * Ask for a reason and reset the zone. The dialog stays open on a refusal and shows the core's answer
 * (gas still present, a channel in fault, an ML signal held...).
 * @returns {Promise<{ok: boolean, text: string} | null>} the outcome, or null when cancelled untried
 */
export async function resetZone(zone) {
  const name = zone.name || zone.id;
  let outcome = null;
  const handClosed = !zone.tripped && (zone.valves || []).some((v) => valveNeedsReset(v));
  await confirmWithReason({
    title: `Reset ${name}?`,
    body: handClosed
      ? "A reset checks that no detector reads at the trip level and no detector is in fault; only then may " +
        "the closed valves be opened again, each with a reason."
      : "Reset clears the trip and the latched alarms once their cause is gone. It is refused while gas is still " +
        "at the trip level. The valves stay closed until someone opens them.",
    confirmLabel: "Reset zone",
    action: async (values) => {
      try {
        await api(`/api/v1/zones/${encodeURIComponent(zone.id)}/reset`, {
          method: "POST",
          body: { reason: values.reason },
        });
        outcome = { ok: true, text: `${name} reset: its valves may be opened again, with a reason.` };
      } catch (err) {
        const detail = err instanceof ApiError ? err.detail.replace(/^refused:\s*/i, "") : String(err);
        outcome = { ok: false, text: `Reset of ${name} refused: ${detail}` };
        throw new ApiError(err.status ?? 0, outcome.text);
      }
    },
  });
  return outcome;
}

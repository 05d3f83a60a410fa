"""A fleet of MQTT detectors in one process: every channel publishes one reading per period.

Run as ``python -m gasguard.benchmarks.loadgen --prefix P --site S --zones Z --per-zone C --rate R
[--seconds T]``; without ``--seconds`` it runs until SIGTERM or SIGINT. Publishes are spread evenly
over each second (in 20 slices), each payload carries its
send time (``{"ts": <epoch s>, "ppm": <value>}``) so the receiver can time the path, and QoS 1 makes
the broker acknowledge every one. At the end it prints one JSON line: how many it published, how
many the broker acknowledged (also per zone, so a benchmark across workers can say which worker's
zones lost readings), how far behind schedule it fell, and its own CPU time.

It uses paho-mqtt's threaded client directly: a load generator must be cheaper than what it loads.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import resource
import signal
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)

SLICES_PER_SECOND = 20


def _topics(prefix: str, site: str, zones: int, per_zone: int) -> list[str]:
    return [f"{prefix}/{site}/z{z:03d}/z{z:03d}-c{c:02d}/reading" for z in range(zones) for c in range(per_zone)]


def run(args: argparse.Namespace) -> dict[str, object]:
    topics = _topics(args.prefix, args.site, args.zones, args.per_zone)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ggload-{uuid.uuid4().hex[:8]}")
    # No in-flight limit (0), on purpose: with a limit, paho-mqtt scans every unacknowledged message
    # on each PUBACK to find a queued one to send next, so the cost of an ack grows with the window.
    # With the former window of 65,535 the generator's network thread fell behind at 5,000-10,000
    # messages/s, the window filled and acks crawled (100,000 messages in 10 s: 50,000 acked after
    # 160 s at 99 % CPU, with no subscriber at all); without a limit: all acked in 11 s at 41 % CPU.
    # That, not the broker, is what "stopped acknowledging" in the earlier 5,000/10,000-channel runs.
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    acked = [0]
    # Which zone each unacknowledged message id belongs to. The ack can arrive (network thread) before
    # publish() has returned the id here, so an early ack waits in ``early``. The lock is never held
    # while calling the client: paho calls on_publish with its own lock held.
    zone_of_mid: dict[int, int] = {}
    early: set[int] = set()
    acked_by_zone = [0] * args.zones
    lock = threading.Lock()

    def on_publish(_c: object, _u: object, mid: int, _rc: object, _p: object) -> None:
        acked[0] += 1
        with lock:
            zone = zone_of_mid.pop(mid, None)
            if zone is None:
                early.add(mid)
            else:
                acked_by_zone[zone] += 1

    client.on_publish = on_publish
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    rng = random.Random(args.seed)
    published = 0
    worst_lag = 0.0
    period = 1.0 / args.rate
    per_slice = max(1, len(topics) // SLICES_PER_SECOND)
    stop = [False]

    def on_signal(_signum: int, _frame: object) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    start = time.monotonic()
    end = start + args.seconds if args.seconds else float("inf")
    slot = start
    index = 0
    while slot < end and not stop[0]:
        lag = time.monotonic() - slot
        worst_lag = max(worst_lag, lag)
        if lag < 0:
            time.sleep(-lag)
            if stop[0]:
                break
        for _ in range(per_slice):
            topic = topics[index % len(topics)]
            zone = (index % len(topics)) // args.per_zone
            index += 1
            payload = json.dumps({"ts": time.time(), "ppm": round(400.0 + rng.random() * 200.0, 1)})
            info = client.publish(topic, payload, qos=args.qos)
            with lock:
                if info.mid in early:
                    early.discard(info.mid)
                    acked_by_zone[zone] += 1
                else:
                    zone_of_mid[info.mid] = zone
            published += 1
        slot += period * per_slice / len(topics)
    deadline = time.monotonic() + 60
    while acked[0] < published and time.monotonic() < deadline:
        time.sleep(0.05)
    client.loop_stop()
    client.disconnect()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic() - start
    return {
        "published": published,
        "acknowledged": acked[0],
        "seconds": round(wall, 2),
        "worst_lag_s": round(worst_lag, 3),
        "acknowledged_by_zone": {f"z{z:03d}": n for z, n in enumerate(acked_by_zone)},
        "cpu_pct": round(100.0 * (usage.ru_utime + usage.ru_stime) / wall, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--site", default="bench")
    parser.add_argument("--zones", type=int, required=True)
    parser.add_argument("--per-zone", type=int, required=True)
    parser.add_argument("--rate", type=float, default=1.0, help="Readings per second per channel.")
    parser.add_argument("--seconds", type=float, default=0.0, help="How long to run; 0: until SIGTERM.")
    parser.add_argument("--qos", type=int, default=1, choices=(0, 1))
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(run(args)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

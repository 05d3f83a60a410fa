"""Build each configured valve's and output's driver from the site configuration (``driver.kind``).

- no ``driver`` or ``kind: simulated``: a ``SimulatedValve`` that starts OPEN and travels in half
  the configured travel time (so the safety core's travel deadline is met with margin);
- ``kind: modbus``: a ``ModbusValve`` on the configured coil and limit-switch inputs;
- ``kind: mqtt``: an ``MqttValve`` on the broker GasGuard is given; without a broker that is a
  ``ConfigError`` naming the valve, not a valve that silently never moves.

Outputs (sounders, beacons, fans, relays, the fault relay) the same way: no driver or ``simulated``:
a ``SimulatedOutput``; ``modbus``: a ``ModbusOutput`` on its coil; ``mqtt``: an ``MqttOutput`` on
``<prefix>/<site>/output/<output id>`` unless the driver names a ``topic``.

Drivers that watch or feed their device (Modbus and MQTT valves and outputs: feedback, heartbeats,
pulsing) have an ``async run()``; the runtime runs them alongside the pipeline with ``run_drivers``.
The simulated ones have none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import cast

from gasguard.actuators.base import OutputDriver, ValveDriver
from gasguard.actuators.modbus import ModbusValve
from gasguard.actuators.modbus_output import ModbusOutput
from gasguard.actuators.mqtt import MqttValve, valve_base_topic
from gasguard.actuators.mqtt_output import MqttOutput, output_base_topic
from gasguard.actuators.simulated import SimulatedOutput, SimulatedValve
from gasguard.config import (
    ConfigError,
    ModbusOutputDriver,
    ModbusValveDriver,
    MqttOutputDriver,
    MqttValveDriver,
    OutputConfig,
    SiteConfig,
    SiteEntry,
    ValveConfig,
    ZoneConfig,
)
from gasguard.domain import OutputKind, ValvePosition
from gasguard.ingest.mqtt import BrokerAddress

logger = logging.getLogger(__name__)

SIMULATED_TRAVEL_FRACTION = 0.5


def build_valve_driver(
    site: SiteEntry,
    zone: ZoneConfig,
    valve: ValveConfig,
    *,
    mqtt: BrokerAddress | None,
    prefix: str = "gasguard",
) -> ValveDriver:
    """The driver for one configured valve. Raises ``ConfigError`` when it cannot be built."""
    driver = valve.driver
    if isinstance(driver, ModbusValveDriver):
        return ModbusValve(valve.id, driver)
    if isinstance(driver, MqttValveDriver):
        if mqtt is None:
            raise ConfigError(
                f"valve {valve.id!r} (site {site.id!r}, zone {zone.id!r}) uses the mqtt driver, but no MQTT broker "
                "is configured: set GASGUARD_MQTT_URL (or --mqtt), or give the valve another driver"
            )
        base = driver.topic or valve_base_topic(prefix, site.id, zone.id, valve.id, valves_in_zone=len(zone.valves))
        return MqttValve(
            valve.id,
            mqtt,
            command_topic=f"{base}/set",
            state_topic=f"{base}/state",
            heartbeat_topic=f"{base}/heartbeat",
            availability_topic=f"{base}/availability",
            feedback_lost_s=driver.feedback_lost_s,
            heartbeat_s=driver.heartbeat_s,
        )
    return SimulatedValve(
        valve.id, travel_time_s=valve.travel_time_s * SIMULATED_TRAVEL_FRACTION, position=ValvePosition.OPEN
    )


def build_valve_drivers(
    config: SiteConfig, *, mqtt: BrokerAddress | None, prefix: str = "gasguard"
) -> dict[str, ValveDriver]:
    """Drivers for every valve in the configuration, keyed by valve id (ids are unique in a file)."""
    return {
        valve.id: build_valve_driver(site, zone, valve, mqtt=mqtt, prefix=prefix)
        for site, zone in config.zones()
        for valve in zone.valves
    }


def build_output_driver(
    site: SiteEntry, output: OutputConfig, *, mqtt: BrokerAddress | None, prefix: str = "gasguard"
) -> OutputDriver:
    """The driver for one configured output. Raises ``ConfigError`` when it cannot be built."""
    driver = output.driver
    # The fault relay's own disagreement would drop it and so "agree" again: shown, never a fault.
    check_feedback = output.kind is not OutputKind.FAULT_RELAY
    if isinstance(driver, ModbusOutputDriver):
        return ModbusOutput(output.id, driver, check_feedback=check_feedback)
    if isinstance(driver, MqttOutputDriver):
        if mqtt is None:
            raise ConfigError(
                f"output {output.id!r} (site {site.id!r}) uses the mqtt driver, but no MQTT broker is configured: "
                "set GASGUARD_MQTT_URL (or --mqtt), or give the output another driver"
            )
        return MqttOutput(
            output.id,
            mqtt,
            base_topic=driver.topic or output_base_topic(prefix, site.id, output.id),
            feedback=output.feedback,
            check_feedback=check_feedback,
            heartbeat_s=driver.heartbeat_s,
        )
    return SimulatedOutput(output.id)


def build_output_drivers(
    config: SiteConfig, *, mqtt: BrokerAddress | None, prefix: str = "gasguard"
) -> dict[str, OutputDriver]:
    """Drivers for every output in the configuration, keyed by output id."""
    return {output.id: build_output_driver(site, output, mqtt=mqtt, prefix=prefix) for site, output in config.outputs()}


Driver = ValveDriver | OutputDriver


def driver_name(driver: object) -> str:
    """``valve <id>`` or ``output <id>``, for logs."""
    valve_id = getattr(driver, "valve_id", None)
    return f"valve {valve_id}" if valve_id is not None else f"output {getattr(driver, 'output_id', '?')}"


def _runner(driver: object) -> Callable[[], Awaitable[None]] | None:
    run = getattr(driver, "run", None)
    return cast(Callable[[], Awaitable[None]], run) if callable(run) else None


async def run_drivers(drivers: Iterable[Driver] | Mapping[str, Driver], *, restart_after_s: float = 1.0) -> None:
    """Run the background loop (feedback, connection, heartbeat, pulsing) of every driver that has one,
    until cancelled.

    Returns when every loop has returned (drivers with nothing to watch return at once). A loop that
    fails unexpectedly is logged and restarted after ``restart_after_s``: the other devices go on.
    """
    items = list(drivers.values()) if isinstance(drivers, Mapping) else list(drivers)
    runners = [(driver, run) for driver in items if (run := _runner(driver)) is not None]
    if not runners:
        return
    await asyncio.gather(*(_keep_running(driver, run, restart_after_s) for driver, run in runners))


run_valve_drivers = run_drivers
"""The name ``run_drivers`` had when only valves had drivers."""


async def _keep_running(driver: object, run: Callable[[], Awaitable[None]], restart_after_s: float) -> None:
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s: driver loop failed; restarting in %.1f s", driver_name(driver), restart_after_s)
            await asyncio.sleep(restart_after_s)


async def close_drivers(drivers: Iterable[Driver] | Mapping[str, Driver]) -> None:
    """Release every driver's connections and timers (``aclose``), ignoring errors on the way out."""
    items = list(drivers.values()) if isinstance(drivers, Mapping) else list(drivers)
    for driver in items:
        close = getattr(driver, "aclose", None)
        if callable(close):
            with contextlib.suppress(Exception):
                await close()


close_valve_drivers = close_drivers

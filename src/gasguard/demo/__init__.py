"""``gasguard demo``: the whole system on embedded defaults, with a storyline that shows it working.

``prepare_demo`` builds everything the demo adds to a plain ``gasguard serve``: the demo site (kitchen,
boiler room, lab), the simulated plant and thermal camera, the scripted operator, an admin account with
a password generated at every start, and optionally a replay of the real MultimodalGasData sensor array
as an extra zone with the gas-type model running live.

The demo keeps its data the way ``serve`` does: ``gasguard.db`` and the secret key in its data folder
(``--data-dir``, else ``GASGUARD_DATA_DIR``, else the user data folder's ``demo``), so the documented
settings reach it: ``GASGUARD_DATA_DIR=<folder> gasguard users list`` lists the demo's accounts. The
folder is locked while the demo runs (``gasguard.datalock``), so only the demo that owns it resets the
admin password, and that reset is in the audit log.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from gasguard.config import SiteConfig, parse_site_config
from gasguard.runtime import Runtime
from gasguard.services import Services
from gasguard.settings import ServiceSettings, default_data_dir

log = logging.getLogger(__name__)

ADMIN = "admin"
CAMERA_MAX_SPEED = 4.0
"""The plume simulation and the detector's temporal context need small steps; a faster demo caps the camera."""
ARRAY_ZONE = "array"
REPLAY_SENSORS = ("MQ2", "MQ3", "MQ5", "MQ6", "MQ7", "MQ8", "MQ135")
REPLAY_GAIN = 0.005
"""Raw ADC counts to an indicative %LEL: the public array is uncalibrated, so its channels can never reach A1."""


def demo_site_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((resources.files("gasguard.demo") / "site.yaml").read_text("utf-8"))
    return data


def replay_zone() -> dict[str, Any]:
    """A zone for the replayed sensor array: raw MOS readings, shown for the gas-type model's sake."""
    return {
        "id": ARRAY_ZONE,
        "name": "Sensor array replay (MultimodalGasData)",
        "channels": [
            {
                "id": f"array-{name.lower()}",
                "name": f"{name} (raw ADC, uncalibrated)",
                "gas": "methane",
                "unit": "raw",
                "calibration": {"gain": REPLAY_GAIN, "to": "lel_pct"},
                "warmup_s": 0,
                "stale_timeout_s": 30,
            }
            for name in REPLAY_SENSORS
        ],
        "valves": [],
    }


def demo_site(replay: Path | None = None) -> SiteConfig:
    data = demo_site_data()
    if replay is not None:
        data["sites"][0]["zones"].append(replay_zone())
    return parse_site_config(data, "gasguard demo site")


DATA_DIR_ENV = "GASGUARD_DATA_DIR"
DATABASE_FILE = "gasguard.db"
"""The file name ``serve`` uses in a data folder (``ServiceSettings.resolved_database_url``)."""
DEMO_ACTOR = "gasguard-demo"
"""Who the audit log names for what the demo program itself does to accounts."""


def demo_data_dir(data_dir: Path | None) -> Path:
    """The demo's folder: ``--data-dir``, else ``GASGUARD_DATA_DIR`` (as for every other command), else
    the user data folder's ``demo`` (kept apart from a real installation's default folder)."""
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    chosen = data_dir or (Path(env) if env else default_data_dir() / "demo")
    return chosen.expanduser().resolve()


def demo_settings(data_dir: Path | None) -> ServiceSettings:
    """Embedded defaults whatever else the environment says: SQLite in the demo folder, no broker.

    The database is ``gasguard.db``, the file ``serve``, ``users`` and ``db`` use in a data folder, so
    pointing ``GASGUARD_DATA_DIR`` at the demo's folder reaches the demo's accounts and events.
    """
    folder = demo_data_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return ServiceSettings(
        data_dir=folder,
        database_url=f"sqlite:///{folder / DATABASE_FILE}",
        mqtt_url=None,
        site_config=None,
    )


def ensure_admin(services: Services) -> str:
    """Give the demo's admin account a new random password (never a fixed one) and return it.

    Only the process that holds the demo's data folder calls this (``run_service`` locks it first), and
    the reset is an audit event: it ends the admin's open sessions, which nobody should have to guess at.
    """
    from gasguard.auth import Role, create_user, get_user, set_password, update_user

    password = secrets.token_urlsafe(12)
    now = time.time()
    with services.session_factory() as session:
        if get_user(session, username=ADMIN) is None:
            create_user(session, username=ADMIN, password=password, role=Role.ADMIN, now=now)
            action, reason = "user.create", "demo started: admin account created with a generated password"
        else:
            set_password(session, username=ADMIN, password=password, now=now)
            update_user(session, username=ADMIN, role=Role.ADMIN, active=True, now=now)
            action = "user.password_reset"
            reason = "demo started: new generated admin password; the admin's open sessions were ended"
        services.record_audit(  # commits the account change and its audit event together
            session,
            ts=now,
            source=f"user:{ADMIN}",
            actor=DEMO_ACTOR,
            reason=reason,
            payload={"action": action, "pid": os.getpid()},
        )
    return password


@dataclass
class DemoParts:
    plant: Any
    operator: Any
    camera: Any | None
    password: str


def prepare_demo(runtime: Runtime, services: Services, *, speed: float, replay: Path | None) -> DemoParts:
    """Add the demo's plant, camera, operator and replay to a built runtime."""
    from gasguard.demo.operator import ScriptedOperator
    from gasguard.demo.plant import DemoPlant

    camera = _kitchen_camera(speed)
    plant = DemoPlant(runtime, speed=speed, on_leak=camera.set_leak if camera is not None else None)
    runtime.add_source("demo-plant", plant.run, plant.status)
    operator = ScriptedOperator(runtime, plant)
    runtime.add_source("demo-operator", operator.run, lambda: {"actions": len(operator.actions)})
    if camera is not None:
        runtime.add_camera(camera)
        runtime.models.append(camera_model_info())
    if replay is not None:
        from gasguard.demo.replay import add_replay

        add_replay(runtime, replay, speed=speed)
    return DemoParts(plant, operator, camera, ensure_admin(services))


def _kitchen_camera(speed: float) -> Any | None:
    try:
        from gasguard.cameras import SimulatedThermalCamera

        camera = SimulatedThermalCamera("kitchen-thermal", "kitchen", "Kitchen thermal camera", seed=3)
        camera.speed = min(speed, CAMERA_MAX_SPEED)
        return camera
    except Exception:
        log.exception("the demo's thermal camera could not start; the demo runs without it")
        return None


def camera_model_info() -> Any:
    from gasguard.runtime import ModelInfo

    try:
        from gasguard.vision.detector import artifact_path

        card_path = artifact_path("MODEL_CARD.md")
        card = {"markdown": card_path.read_text(encoding="utf-8")} if card_path.exists() else {}
        return ModelInfo("plume_seg", "plume_segmentation", "1", True, None, card)
    except Exception as exc:
        return ModelInfo("plume_seg", "plume_segmentation", "unknown", False, str(exc)[:300])

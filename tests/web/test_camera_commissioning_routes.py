"""Cameras over the API: commissioning (admins, audited), evidence clips, and FAULTs in the listing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cameras.fakes import ScriptedDetector
from gasguard.cameras import DetectingCamera, Grab, SimulatedThermalCamera
from gasguard.storage.events import EventFilter, EventKind, list_events
from live_harness import LiveHarness


class NoisyCamera(DetectingCamera):
    def _grab(self) -> Grab:
        rng = np.random.default_rng(self._index)
        scene = np.add.outer(np.arange(60) * 2, np.arange(80)) + 30
        picture = (scene + rng.integers(0, 3, scene.shape)).astype(np.uint8)
        return Grab(picture, picture)


def test_an_admin_commissions_a_camera_and_it_is_audited(live: LiveHarness) -> None:
    camera = SimulatedThermalCamera("yard-cam", "kitchen", "Yard", seed=2, clock=live.clock)
    live.runtime.add_camera(camera)
    url = "/api/v1/cameras/yard-cam/commission"
    assert live.client.get(url, headers=live.headers("vera")).json()["state"] == "uncommissioned"
    body = {"reason": "new camera, yard confirmed clear", "seconds": 10}
    assert live.client.post(url, json=body, headers=live.headers("otto")).status_code == 403
    assert live.client.post(url, json={"seconds": 10}, headers=live.headers("ada")).status_code == 422
    started = live.client.post(url, json=body, headers=live.headers("ada"))
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "commissioning" and started.json()["request"]["frames"] == 40
    with live.services.session_factory() as session:
        [event] = [
            e for e in list_events(session, flt=EventFilter(kinds=[EventKind.AUDIT])) if e.source == "camera:yard-cam"
        ]
    assert (event.actor, event.reason, event.payload["action"]) == ("ada", body["reason"], "camera.commission")
    for _ in range(50):
        live.clock.now += 0.25
        camera.step(0.25)
    state = live.client.get(url, headers=live.headers("vera")).json()
    assert state["state"] == "commissioned" and state["record"]["by"] == "ada"
    assert (Path(live.services.settings.data_dir) / "cameras" / "yard-cam" / "baseline.json").is_file()
    [listed] = [
        c for c in live.client.get("/api/v1/cameras", headers=live.headers("vera")).json() if c["id"] == "yard-cam"
    ]
    assert listed["phase"] == "commissioned" and listed["commissioning"]["state"] == "commissioned"


def test_commissioning_is_refused_for_a_camera_without_a_scene_model(live: LiveHarness) -> None:
    live.runtime.add_camera(NoisyCamera("hob-cam", "kitchen", detector=ScriptedDetector([False]), clock=live.clock))
    r = live.client.post("/api/v1/cameras/hob-cam/commission", json={"reason": "try"}, headers=live.headers("ada"))
    assert (r.status_code, r.json()["detail"]) == (409, "camera hob-cam: its detector cannot learn a scene baseline")
    assert (
        live.client.post(
            "/api/v1/cameras/nope/commission", json={"reason": "x y"}, headers=live.headers("ada")
        ).status_code
        == 404
    )


def test_evidence_clips_are_listed_and_downloaded(live: LiveHarness) -> None:
    verdicts: list[bool | Exception] = [False] * 4 + [True] * 6 + [False] * 200
    camera = NoisyCamera("hob-cam", "kitchen", fps=2.0, detector=ScriptedDetector(verdicts), clock=live.clock)
    live.runtime.add_camera(camera)
    for _ in range(80):
        camera.observe(camera.capture())
        live.clock.now += 0.5
    assert camera.recorder is not None
    camera.recorder.flush()
    vera = live.headers("vera")
    [clip] = live.client.get("/api/v1/cameras/hob-cam/clips", headers=vera).json()
    assert clip["camera"] == "hob-cam" and clip["reasons"] == ["camera leak signal"]
    video = live.client.get(clip["video_url"], headers=vera)
    assert video.status_code == 200 and video.headers["content-type"] in ("video/mp4", "video/x-msvideo")
    assert "attachment" in video.headers["content-disposition"] and len(video.content) == clip["bytes"]
    snap = live.client.get(clip["snapshot_url"], headers=vera)
    assert snap.status_code == 200 and snap.content[:2] == b"\xff\xd8"
    missing = live.client.get("/api/v1/cameras/hob-cam/clips/..%2F..%2Fsecret/video", headers=vera)
    assert missing.status_code == 404
    assert live.client.get("/api/v1/cameras/hob-cam/clips").status_code == 401


def test_a_camera_fault_shows_in_the_listing_and_refuses_commissioning(live: LiveHarness) -> None:
    camera = SimulatedThermalCamera("yard-cam", "kitchen", "Yard", seed=2, clock=live.clock)
    live.runtime.add_camera(camera)
    frozen = camera.scene.grey(camera.scene.advance(0.0))
    camera._grab = lambda: Grab(frozen, frozen)  # type: ignore[method-assign]
    for _ in range(30):
        camera.capture()
        live.clock.now += 0.25
    [listed] = [
        c for c in live.client.get("/api/v1/cameras", headers=live.headers("vera")).json() if c["id"] == "yard-cam"
    ]
    assert listed["fault"]["kind"] == "frozen" and listed["health"] == "down"
    assert listed["caption"].startswith("FAULT frozen")
    r = live.client.post("/api/v1/cameras/yard-cam/commission", json={"reason": "new"}, headers=live.headers("ada"))
    assert r.status_code == 409 and "FAULT" in r.json()["detail"]


def test_a_trip_of_the_cameras_zone_keeps_a_clip(live: LiveHarness) -> None:
    from gasguard.domain import ZoneTripChanged

    camera = NoisyCamera("hob-cam", "kitchen", fps=2.0, detector=ScriptedDetector([False]), clock=live.clock)
    live.runtime.add_camera(camera)
    live.runtime.notify_observers(ZoneTripChanged("kitchen", True, "A2 on kitchen-ch1"))
    assert camera.recorder is not None and camera.recorder.recording is None  # no picture yet: nothing to keep
    for _ in range(4):
        camera.capture()
        live.clock.now += 0.5
    live.runtime.notify_observers(ZoneTripChanged("boiler", True, "A2"))
    assert camera.recorder.recording is None  # another zone
    live.runtime.notify_observers(ZoneTripChanged("kitchen", True, "A2 on kitchen-ch1"))
    assert camera.recorder.recording is not None
    assert camera.recorder._active is not None and camera.recorder._active.reasons == [
        "zone kitchen tripped: A2 on kitchen-ch1"
    ]

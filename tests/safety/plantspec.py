"""Small plant specs for safety-core tests."""

from __future__ import annotations

from gasguard.safety.spec import ChannelSpec, FaultPolicy, PlantSpec, RateOfRiseSpec, ValveSpec, ZoneSpec


def channel(cid: str, zone: str = "z1", **kw: object) -> ChannelSpec:
    """A %LEL channel (scale 1) with the default setpoints 10/20/40 and hysteresis 2."""
    params: dict[str, object] = {
        "gas": "methane",
        "scale": 1.0,
        "offset": 0.0,
        "stale_timeout_s": 10.0,
        "warmup_s": 30.0,
        "valid_min": -5.0,
        "valid_max": 110.0,
    }
    params.update(kw)
    return ChannelSpec(id=cid, zone=zone, **params)  # type: ignore[arg-type]


def zone_spec(
    zid: str = "z1",
    n_channels: int = 1,
    k: int = 1,
    n_valves: int = 1,
    fault_policy: FaultPolicy = FaultPolicy.TRIP,
    rate_of_rise: RateOfRiseSpec | None = None,
    **channel_kw: object,
) -> ZoneSpec:
    return ZoneSpec(
        id=zid,
        channels=tuple(channel(f"{zid}-c{i + 1}", zid, **channel_kw) for i in range(n_channels)),
        valves=tuple(ValveSpec(id=f"{zid}-v{i + 1}", zone=zid, travel_time_s=3.0) for i in range(n_valves)),
        vote_k=k,
        fault_policy=fault_policy,
        rate_of_rise=rate_of_rise,
        ml_hold_s=60.0,
        close_reassert_s=5.0,
        valve_travel_margin_s=1.0,
    )


def plant(*zones: ZoneSpec) -> PlantSpec:
    return PlantSpec(zones=zones or (zone_spec(),))

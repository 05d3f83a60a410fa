"""Procedural industrial backgrounds, as brightness-temperature maps (kelvin).

A scene is a static map (sky gradient, walls, ground, pipes with flanges, tanks, valves, sun-warmed
patches) plus moving distractors (people walking, steam from a vent) that a fixed camera also sees
and that must not be mistaken for gas. Every element has a physical temperature relative to the air,
so the plume's contrast against it follows from radiometry instead of being painted on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.sim.noise import fractal_noise

FloatArray = NDArray[np.float64]


@dataclass
class Person:
    """A warm upright figure crossing the view at constant speed (pixels per second)."""

    x: float
    y_feet: float
    height_px: float
    speed_px_s: float
    temperature_k: float


@dataclass
class SteamVent:
    """Condensed steam puffs rising from a vent: warm, nearly opaque, and turbulent."""

    x: float
    y: float
    temperature_k: float
    rate_hz: float
    puffs: list[list[float]] = field(default_factory=list)  # [x, y, radius, age]


@dataclass
class Background:
    """Static temperature map, plus the pipe/valve points a leak can come from, plus distractors."""

    temperature_k: FloatArray
    leak_points: list[tuple[float, float]]
    people: list[Person]
    vents: list[SteamVent]
    air_temperature_k: float


def _grid(h: int, w: int) -> tuple[FloatArray, FloatArray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return yy, xx


def _draw_pipe(
    img: FloatArray,
    rng: np.random.Generator,
    t_pipe: float,
    vertical: bool,
    pos: float,
    width: float,
    leak_points: list[tuple[float, float]],
) -> None:
    h, w = img.shape
    yy, xx = _grid(h, w)
    coord = xx if vertical else yy
    d = np.abs(coord - pos) / (width / 2)
    inside = d < 1
    # Cylindrical shading: grazing angles at the edges have lower emissivity, so look cooler.
    shade = np.sqrt(np.clip(1 - d**2, 0, 1))
    edge_temp = img + (t_pipe - img) * (0.55 + 0.45 * shade)
    img[inside] = edge_temp[inside]
    # Flanges and valves along the pipe: wider, slightly different temperature; leaks start there.
    length = h if vertical else w
    for _ in range(rng.integers(1, 4)):
        s = rng.uniform(0.1, 0.9) * length
        half = rng.uniform(1.5, 3.0) * width / 2
        along = yy if vertical else xx
        flange = (np.abs(along - s) < max(1.5, width * 0.25)) & (np.abs(coord - pos) < half)
        img[flange] = t_pipe - rng.uniform(0, 4)
        if rng.random() < 0.5:  # a valve body with a handwheel
            body = ((along - s) ** 2 + (coord - pos) ** 2) < (width * 0.9) ** 2
            img[body] = t_pipe - rng.uniform(1, 6)
            wheel_c = pos - width * 1.6
            wheel = np.abs(np.hypot(along - s, coord - wheel_c) - width * 0.7) < max(0.8, width * 0.12)
            img[wheel] = t_pipe - rng.uniform(2, 8)
        leak_points.append((pos, s) if vertical else (s, pos))


def _draw_tank(img: FloatArray, rng: np.random.Generator, t_air: float) -> None:
    h, w = img.shape
    yy, xx = _grid(h, w)
    cx = rng.uniform(0.1, 0.9) * w
    half_w = rng.uniform(0.08, 0.2) * w
    top = rng.uniform(0.2, 0.6) * h
    body = (np.abs(xx - cx) < half_w) & (yy > top)
    roof = ((xx - cx) / half_w) ** 2 + ((yy - top) / (0.25 * half_w)) ** 2 < 1
    level = rng.uniform(top, h)  # the liquid inside is cooler than the vapour space above it
    t_upper = t_air + rng.uniform(-2, 6)
    t_lower = t_air + rng.uniform(-8, 1)
    tank_temp = np.where(yy > level, t_lower, t_upper) + (xx - cx) / half_w * rng.uniform(-1.5, 1.5)
    mask = body | roof
    img[mask] = tank_temp[mask]


def make_background(
    rng: np.random.Generator,
    height: int,
    width: int,
    air_temperature_k: float,
    min_people: int = 0,
    min_steam_vents: int = 0,
) -> Background:
    """Draw a random outdoor or indoor plant scene.

    ``min_people`` / ``min_steam_vents`` force that many distractors into view (for distractor-heavy
    training and false-alarm tests); with the defaults the random draws are exactly as before.
    """
    h, w = height, width
    yy, _ = _grid(h, w)
    t_air = air_temperature_k
    img = t_air + rng.uniform(-3, 3) + 1.5 * fractal_noise(rng, h, w, base_cells=3)
    # Walls and ground: a few large panels at slightly different temperatures.
    for _ in range(rng.integers(0, 4)):
        x0, x1 = np.sort(rng.uniform(0, w, 2))
        y0, y1 = np.sort(rng.uniform(0, h, 2))
        img[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1] += rng.uniform(-4, 4)
    if rng.random() < 0.6:  # outdoors: a cold clear or cloudy sky above a horizon
        horizon = rng.uniform(0.15, 0.55) * h
        t_zenith = t_air - rng.uniform(15, 60)
        sky = t_zenith + (t_air - 4 - t_zenith) * np.clip(yy / max(horizon, 1), 0, 1) ** 1.5
        sky += 2.0 * fractal_noise(rng, h, w, base_cells=2)
        img = np.where(yy < horizon, sky, img)
    # Sun-warmed surfaces: broad patches a few to 15 K above the air, with a soft gradient.
    for _ in range(rng.integers(0, 3)):
        x0, x1 = np.sort(rng.uniform(0, w, 2))
        y0, y1 = np.sort(rng.uniform(0.3 * h, h, 2))
        patch = np.zeros((h, w))
        patch[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1] = 1.0
        img += patch * rng.uniform(3, 15) * (0.7 + 0.3 * fractal_noise(rng, h, w, base_cells=2).clip(-1, 1))
    for _ in range(rng.integers(0, 2)):
        _draw_tank(img, rng, t_air)
    leak_points: list[tuple[float, float]] = []
    for _ in range(rng.integers(1, 5)):
        vertical = bool(rng.random() < 0.35)
        pos = rng.uniform(0.15, 0.9) * (w if vertical else h)
        width_px = rng.uniform(0.02, 0.07) * min(h, w) * 2
        t_pipe = t_air + float(rng.choice([rng.uniform(-15, -2), rng.uniform(3, 20), rng.uniform(20, 80)]))
        _draw_pipe(img, rng, t_pipe, vertical, pos, width_px, leak_points)
    people = [
        Person(
            x=float(rng.uniform(0, w)),
            y_feet=float(rng.uniform(0.6, 1.0) * h),
            height_px=float(rng.uniform(0.25, 0.6) * h),
            speed_px_s=float(rng.choice([-1, 1]) * rng.uniform(0.05, 0.25) * w),
            temperature_k=float(rng.uniform(300, 307)),
        )
        for _ in range(max(min_people, int(rng.random() < 0.4) + int(rng.random() < 0.15)))
    ]
    vents = [
        SteamVent(
            x=float(rng.uniform(0.1, 0.9) * w),
            y=float(rng.uniform(0.4, 0.9) * h),
            temperature_k=float(t_air + rng.uniform(8, 30)),
            rate_hz=float(rng.uniform(2, 6)),
        )
        for _ in range(max(min_steam_vents, int(rng.random() < 0.3)))
    ]
    return Background(img, leak_points, people, vents, t_air)


def render_distractors(bg: Background, base: FloatArray, t_s: float, dt: float, rng: np.random.Generator) -> FloatArray:
    """Background for one frame: the static map with people and steam drawn over it (advances state)."""
    h, w = base.shape
    img = base.copy()
    yy, xx = _grid(h, w)
    for p in bg.people:
        x = (p.x + p.speed_px_s * t_s) % (w + p.height_px) - p.height_px / 2
        top = p.y_feet - p.height_px
        half = p.height_px * 0.13
        stride = np.sin(t_s * 6.0) * half * 0.6
        torso = (np.abs(xx - x) < half) & (yy > top + 0.18 * p.height_px) & (yy < p.y_feet - 0.45 * p.height_px)
        head = (xx - x) ** 2 + (yy - top - 0.09 * p.height_px) ** 2 < (0.09 * p.height_px) ** 2
        legs = (
            (yy >= p.y_feet - 0.45 * p.height_px)
            & (yy < p.y_feet)
            & ((np.abs(xx - x - stride) < half * 0.4) | (np.abs(xx - x + stride) < half * 0.4))
        )
        img[torso | legs] = p.temperature_k - 3.0  # clothing is cooler than skin
        img[head] = p.temperature_k
    for v in bg.vents:
        if rng.random() < v.rate_hz * dt:
            v.puffs.append([v.x, v.y, 1.5, 0.0])
        alive = []
        for puff in v.puffs:
            puff[0] += rng.normal(0, 0.6)
            puff[1] -= 0.06 * h * dt * 10 * (1 + puff[3])
            puff[2] += 0.04 * min(h, w) * dt * 6
            puff[3] += dt
            opacity = np.exp(-puff[3] / 1.2)
            if opacity > 0.03 and puff[1] + puff[2] > 0:
                alive.append(puff)
                weight = opacity * np.exp(-((xx - puff[0]) ** 2 + (yy - puff[1]) ** 2) / (2 * puff[2] ** 2))
                img = img + (v.temperature_k - img) * np.clip(weight, 0, 0.9)
        v.puffs = alive
    return img

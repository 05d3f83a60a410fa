"""The site-config loader under generated input: a valid config, or one ``ConfigError`` naming the problem.

``tests/test_config.py`` checks chosen mistakes; here Hypothesis makes them: arbitrary YAML documents,
the shipped example with one value replaced or removed anywhere in its tree, and arbitrary bytes as
a file. Nothing may escape as another exception (a crash at start-up instead of a clear message).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gasguard.config import ConfigError, SiteConfig, example_config_path, load_site_config, parse_site_config

FIELDS = [
    "sites", "zones", "channels", "valves", "id", "name", "gas", "unit", "setpoints", "a1", "a2", "a3",
    "hysteresis", "stale_timeout_s", "warmup_s", "valid_range", "min", "max", "calibration", "gain", "offset",
    "to", "voting", "k", "fault_policy", "warmup_policy", "rate_of_rise", "lel_pct_per_min", "window_s", "ml",
    "driver", "kind", "modbus", "register", "count", "travel_time_s", "lel_basis", "flatline_s",
]  # fmt: skip
EXAMPLE: dict[str, Any] = yaml.safe_load(example_config_path().read_text(encoding="utf-8"))

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["methane", "ppm", "raw", "lel_pct", "trip", "alarm", "modbus", "mqtt", "niosh", "iec"])
)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a YAML tree (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


EXAMPLE_PATHS = _paths(EXAMPLE)


def _valid_or_clear_error(data: Any, source: str) -> SiteConfig | None:
    try:
        config = parse_site_config(data, source)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(f"{source}: invalid site configuration"), message
        assert "\n  " in message, "the message names at least one field"
        return None
    config.plant_spec()  # a config that validates also builds the safety core's spec
    return config


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_arbitrary_documents_are_valid_or_a_config_error(document: Any) -> None:
    _valid_or_clear_error(document, "fuzz.yaml")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EXAMPLE_PATHS), scalars | documents, st.booleans())
def test_the_example_with_one_value_changed_is_valid_or_a_config_error(
    path: tuple[Any, ...], value: Any, remove: bool
) -> None:
    data = copy.deepcopy(EXAMPLE)
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    config = _valid_or_clear_error(data, "site.yaml")
    if config is not None:
        for _, zone in config.zones():
            for ch in zone.channels:  # whatever was accepted is finite and ordered
                assert math.isfinite(ch.setpoints.a1) and ch.setpoints.a1 <= ch.setpoints.a2 <= ch.setpoints.a3


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_file_content_is_valid_or_a_config_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "site.yaml"
    path.write_bytes(content)
    try:
        load_site_config(path)
    except ConfigError as exc:
        assert str(exc).startswith(str(path)), str(exc)


def test_deeply_nested_yaml_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("sites: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    try:
        load_site_config(path)
    except ConfigError as exc:
        assert str(exc).startswith(str(path))
    else:
        raise AssertionError("a 5,000-deep list is not a site configuration")

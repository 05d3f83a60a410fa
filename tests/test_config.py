from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gasguard.cli import build_app
from gasguard.config import ConfigError, example_config_path, load_site_config, parse_site_config


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def example() -> dict:
    return yaml.safe_load(example_config_path().read_text())


def test_example_config_is_valid_and_converts_units() -> None:
    spec = load_site_config(example_config_path()).plant_spec()
    channels = {c.id: c for z in spec.zones for c in z.channels}
    assert channels["kitchen-ch1"].scale == pytest.approx(0.002)  # 10,000 ppm methane = 20 %LEL
    assert 1000 * channels["boiler-ch1"].scale == pytest.approx(1000 / 210)  # LPG as propane, LEL 2.1 %
    lab = channels["lab-ch1"]
    assert 819 * lab.scale + lab.offset == pytest.approx(0.0, abs=0.01)  # 4 mA -> 0 %LEL
    assert 4095 * lab.scale + lab.offset == pytest.approx(100.0, abs=0.01)  # 20 mA -> 100 %LEL


def test_iec_basis_uses_the_iec_table(tmp_path: Path) -> None:
    data = example()
    data["sites"][0]["lel_basis"] = "iec"
    spec = load_site_config(write(tmp_path, data)).plant_spec()
    assert spec.zones[0].channels[0].scale == pytest.approx(1 / 440)


def test_unknown_field_is_named_with_its_path(tmp_path: Path) -> None:
    data = example()
    data["sites"][0]["zones"][0]["channels"][0]["hysterisis"] = 3
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_site_config(path)
    message = str(err.value)
    assert str(path) in message
    assert "zone kitchen, channel kitchen-ch1: unknown key 'hysterisis' (did you mean 'hysteresis'?)" in message


def test_bad_setpoints_and_voting_are_refused(tmp_path: Path) -> None:
    data = example()
    data["sites"][0]["zones"][0]["channels"][0]["setpoints"] = {"a1": 30, "a2": 20, "a3": 40}
    data["sites"][0]["zones"][1]["voting"] = {"k": 3}
    with pytest.raises(ConfigError) as err:
        load_site_config(write(tmp_path, data))
    message = str(err.value)
    assert "zone kitchen, channel kitchen-ch1: setpoints: Value error" in message and "a1 <= a2 <= a3" in message
    assert "zone boiler: Value error, voting k=3 exceeds the 1 voting channel(s)" in message


def test_duplicate_ids_and_raw_without_calibration(tmp_path: Path) -> None:
    data = example()
    data["sites"][0]["zones"][1]["channels"][0]["id"] = "kitchen-ch1"
    with pytest.raises(ConfigError, match="'kitchen-ch1' is used twice"):
        load_site_config(write(tmp_path, data))
    data = example()
    del data["sites"][0]["zones"][2]["channels"][0]["calibration"]
    with pytest.raises(ConfigError, match="unit raw needs a calibration"):
        load_site_config(write(tmp_path, data))


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("sites:\n  - id: x\n    zones: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: line \d+, column \d+: not valid YAML"):
        load_site_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_site_config(tmp_path / "absent.yaml")


def test_config_check_command(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(build_app(), ["config", "check", str(example_config_path()), "--json"])
    assert ok.exit_code == 0
    assert '"zones": 3' in ok.stdout and '"valid": true' in ok.stdout
    bad = write(tmp_path, {"sites": []})
    result = runner.invoke(build_app(), ["config", "check", str(bad)])
    assert result.exit_code == 1
    assert "sites: List should have at least 1 item" in result.output


def test_the_examples_commented_outputs_are_valid_once_uncommented() -> None:
    text = example_config_path().read_text(encoding="utf-8")
    lines = [
        line.replace("    # ", "    ", 1) if line.startswith(("    #   ", "    # outputs:")) else line
        for line in text.splitlines()
    ]
    config = parse_site_config(yaml.safe_load("\n".join(lines)), "example with outputs")
    assert [o.id for o in config.sites[0].outputs] == ["kitchen-sounder", "kitchen-fan", "system-fault"]

"""Loaders for the two real sensor datasets GasGuard is trained and measured on.

* MultimodalGasData (Narkhede et al., Data 7(8):112, 2022; CC BY 4.0): 7 MQ sensors, 4 classes, one
  CSV in recording order, a row every ~2 s. Each class is one continuous recording (a *stream*).
* UCI gas sensor array drift at different concentrations (id 270; research use only): 16 sensors x 8
  features, 6 gases with ppm, in ``batchN.dat`` files of which any subset may be present.

A malformed file raises :class:`DatasetError` naming the file and the 1-based line, so a user with a
damaged copy knows where to look instead of seeing a NumPy traceback.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

MULTIMODAL_DIR = "multimodalgasdata"
MULTIMODAL_CSV = "Gas_Sensors_Measurements.csv"
MULTIMODAL_SENSORS: tuple[str, ...] = ("MQ2", "MQ3", "MQ5", "MQ6", "MQ7", "MQ8", "MQ135")
MULTIMODAL_CLASSES: tuple[str, ...] = ("NoGas", "Perfume", "Smoke", "Mixture")
MULTIMODAL_ATTRIBUTION = (
    "MultimodalGasData: P. Narkhede, R. Walambe, P. Chandel, S. Mandaokar, K. Kotecha, "
    '"MultimodalGasData: Multimodal Dataset for Gas Detection and Classification", Data 7(8):112, 2022, '
    "Mendeley Data doi:10.17632/zkwgkjkjn9.2, licensed CC BY 4.0."
)

DRIFT_DIR = "gas-sensor-array-drift"
DRIFT_GASES: dict[int, str] = {
    1: "ethanol",
    2: "ethylene",
    3: "ammonia",
    4: "acetaldehyde",
    5: "acetone",
    6: "toluene",
}
DRIFT_N_FEATURES = 128
DRIFT_ALL_BATCHES = tuple(range(1, 11))
_BATCH_NAME = re.compile(r"^batch(\d+)\.dat$")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file and line."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")
        self.path = Path(path)
        self.line = line
        self.reason = reason


def data_root(data: Path | str | None = None) -> Path:
    """Resolve the data root from an explicit path or the ``GASGUARD_DATA`` environment variable."""
    if data is not None:
        return Path(data)
    env = os.environ.get("GASGUARD_DATA")
    if not env:
        raise DatasetError("GASGUARD_DATA", None, "no data path given: pass --data PATH or set GASGUARD_DATA")
    return Path(env)


@dataclass(frozen=True)
class MultimodalData:
    """The sensor table of MultimodalGasData, rows in file (recording) order.

    ``stream`` numbers each contiguous recording (one per class in the published file); ``serial`` is
    the row's position in its recording, the key to its thermal frame ``<serial>_<label>.png``.
    """

    X: FloatArray
    labels: StrArray
    stream: IntArray
    serial: IntArray
    sensors: tuple[str, ...]
    path: Path

    @property
    def classes(self) -> tuple[str, ...]:
        present = set(self.labels.tolist())
        return tuple(c for c in MULTIMODAL_CLASSES if c in present) + tuple(sorted(present - set(MULTIMODAL_CLASSES)))


def multimodal_csv_path(data: Path | str) -> Path:
    """Accept the data root, the dataset folder or the CSV itself."""
    path = Path(data)
    if path.is_file():
        return path
    for candidate in (path / MULTIMODAL_DIR / MULTIMODAL_CSV, path / MULTIMODAL_CSV):
        if candidate.is_file():
            return candidate
    raise DatasetError(path / MULTIMODAL_DIR / MULTIMODAL_CSV, None, "MultimodalGasData CSV not found")


def load_multimodal(data: Path | str) -> MultimodalData:
    """Read ``Gas_Sensors_Measurements.csv``. A new stream starts where the label changes or the
    serial number does not follow on from the previous row."""
    path = multimodal_csv_path(data)
    rows: list[list[float]] = []
    labels: list[str] = []
    serials: list[int] = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise DatasetError(path, 1, "file is empty")
        header = [h.strip() for h in header]
        missing = [c for c in ("Serial Number", *MULTIMODAL_SENSORS, "Gas") if c not in header]
        if missing:
            raise DatasetError(path, 1, f"header lacks column(s) {', '.join(missing)}")
        i_serial = header.index("Serial Number")
        i_sensors = [header.index(s) for s in MULTIMODAL_SENSORS]
        i_gas = header.index("Gas")
        for record in reader:
            line = reader.line_num
            if not record or all(not f.strip() for f in record):
                continue
            if len(record) != len(header):
                raise DatasetError(path, line, f"expected {len(header)} fields, found {len(record)}")
            try:
                serial = int(record[i_serial])
                values = [float(record[i]) for i in i_sensors]
            except ValueError as exc:
                raise DatasetError(path, line, f"not a number: {exc}") from None
            if not all(np.isfinite(values)):
                raise DatasetError(path, line, "sensor value is not finite")
            gas = record[i_gas].strip()
            if not gas:
                raise DatasetError(path, line, "empty Gas label")
            rows.append(values)
            labels.append(gas)
            serials.append(serial)
    if not rows:
        raise DatasetError(path, None, "no data rows")
    serial_arr = np.asarray(serials, dtype=np.int64)
    label_arr = np.asarray(labels)
    new_stream = np.ones(len(rows), dtype=bool)
    new_stream[1:] = (label_arr[1:] != label_arr[:-1]) | (serial_arr[1:] != serial_arr[:-1] + 1)
    stream = np.cumsum(new_stream).astype(np.int64) - 1
    logger.info("loaded %d rows, %d streams from %s", len(rows), stream[-1] + 1, path)
    return MultimodalData(
        X=np.asarray(rows, dtype=np.float64),
        labels=label_arr,
        stream=stream,
        serial=serial_arr,
        sensors=MULTIMODAL_SENSORS,
        path=path,
    )


@dataclass(frozen=True)
class DriftData:
    """Rows of the UCI drift set from the batches present, in batch then file order."""

    X: FloatArray
    gas_code: IntArray
    ppm: FloatArray
    batch: IntArray
    batches_present: tuple[int, ...]
    batches_missing: tuple[int, ...]
    root: Path

    @property
    def gas(self) -> StrArray:
        return np.asarray([DRIFT_GASES[int(c)] for c in self.gas_code])

    def subset(self, mask: npt.NDArray[np.bool_]) -> DriftData:
        present = tuple(sorted(set(self.batch[mask].tolist())))
        return DriftData(
            X=self.X[mask],
            gas_code=self.gas_code[mask],
            ppm=self.ppm[mask],
            batch=self.batch[mask],
            batches_present=present,
            batches_missing=tuple(b for b in DRIFT_ALL_BATCHES if b not in present),
            root=self.root,
        )


def drift_dir(data: Path | str) -> Path:
    """Accept the data root or the drift folder itself."""
    path = Path(data)
    if (path / DRIFT_DIR).is_dir():
        return path / DRIFT_DIR
    return path


def parse_drift_line(text: str, path: Path, line: int) -> tuple[int, float, list[float]]:
    """Parse ``G;C 1:v1 ... 128:v128``: gas code, concentration (ppmv) and the 128 features."""
    parts = text.split()
    if not parts:
        raise DatasetError(path, line, "empty line")
    head = parts[0].split(";")
    if len(head) != 2:
        raise DatasetError(path, line, f"expected 'gas;ppm' first, found {parts[0]!r}")
    try:
        code = int(head[0])
        ppm = float(head[1])
    except ValueError:
        raise DatasetError(path, line, f"bad gas code or concentration {parts[0]!r}") from None
    if code not in DRIFT_GASES:
        raise DatasetError(path, line, f"unknown gas code {code}")
    if len(parts) - 1 != DRIFT_N_FEATURES:
        raise DatasetError(path, line, f"expected {DRIFT_N_FEATURES} features, found {len(parts) - 1}")
    values: list[float] = []
    for expected, token in enumerate(parts[1:], start=1):
        index, sep, value = token.partition(":")
        if not sep or index != str(expected):
            raise DatasetError(path, line, f"expected feature {expected}, found {token!r}")
        try:
            values.append(float(value))
        except ValueError:
            raise DatasetError(path, line, f"feature {expected} is not a number: {value!r}") from None
    return code, ppm, values


def load_drift(data: Path | str, batches: tuple[int, ...] | None = None) -> DriftData:
    """Read every ``batchN.dat`` present (or only ``batches``); logs which batches are missing."""
    root = drift_dir(data)
    if not root.is_dir():
        raise DatasetError(root, None, "drift dataset folder not found")
    found: dict[int, Path] = {}
    for entry in root.iterdir():
        match = _BATCH_NAME.match(entry.name)
        if match and entry.is_file():
            found[int(match.group(1))] = entry
    wanted = sorted(found) if batches is None else sorted(b for b in batches if b in found)
    if batches is not None:
        absent = sorted(set(batches) - set(found))
        if absent:
            logger.warning("requested drift batches not present: %s", absent)
    if not wanted:
        raise DatasetError(root, None, "no batchN.dat files found")
    X: list[list[float]] = []
    codes: list[int] = []
    ppms: list[float] = []
    batch_ids: list[int] = []
    for b in wanted:
        path = found[b]
        with path.open(encoding="ascii", errors="strict") as fh:
            try:
                for line_no, text in enumerate(fh, start=1):
                    if not text.strip():
                        continue
                    code, ppm, values = parse_drift_line(text, path, line_no)
                    X.append(values)
                    codes.append(code)
                    ppms.append(ppm)
                    batch_ids.append(b)
            except UnicodeDecodeError as exc:
                raise DatasetError(path, None, f"not ASCII text: {exc}") from None
    present = tuple(wanted)
    missing = tuple(b for b in DRIFT_ALL_BATCHES if b not in found)
    if missing:
        logger.info("drift batches present %s, missing %s", present, missing)
    return DriftData(
        X=np.asarray(X, dtype=np.float64),
        gas_code=np.asarray(codes, dtype=np.int64),
        ppm=np.asarray(ppms, dtype=np.float64),
        batch=np.asarray(batch_ids, dtype=np.int64),
        batches_present=present,
        batches_missing=missing,
        root=root,
    )

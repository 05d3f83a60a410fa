"""Lower explosive limits (LEL), in volume percent in air, and unit conversion to %LEL.

Two bases are kept, because published tables differ and a site must be able to say which one its
setpoints were engineered against:

``niosh``
    NIOSH Pocket Guide to Chemical Hazards (DHHS/NIOSH 2007-149), "LEL" column, which matches the
    values most fixed-detector manuals quote (methane 5.0, propane 2.1). Ethanol 3.3, acetone 2.5,
    toluene 1.1, ethylene 2.7, ammonia 15, acetaldehyde 4.0, carbon monoxide 12.5. Methane and hydrogen
    are not in the Pocket Guide; the common engineering values 5.0 and 4.0 are used.
``iec``
    IEC 60079-20-1 (material characteristics for gas and vapour classification), as commonly quoted:
    methane 4.4, propane 1.7, n-butane 1.4, hydrogen 4.0, ethanol 3.1, acetone 2.5, toluene 1.0,
    ethylene 2.3, ammonia 15.0, acetaldehyde 4.0, carbon monoxide 10.9. Check the edition in force at
    your site; a channel may override its LEL with ``lel_vol_pct``.

The lower IEC values make %LEL readings higher for the same ppm, so the IEC basis trips earlier.
Mixtures sold as fuels map to a conservative single gas: natural gas to methane and LPG to propane.
"""

from __future__ import annotations

from typing import Final

_NIOSH: Final[dict[str, float]] = {
    "methane": 5.0,
    "propane": 2.1,
    "butane": 1.6,
    "hydrogen": 4.0,
    "ethanol": 3.3,
    "acetone": 2.5,
    "toluene": 1.1,
    "ethylene": 2.7,
    "ammonia": 15.0,
    "acetaldehyde": 4.0,
    "carbon_monoxide": 12.5,
}

_IEC: Final[dict[str, float]] = {
    "methane": 4.4,
    "propane": 1.7,
    "butane": 1.4,
    "hydrogen": 4.0,
    "ethanol": 3.1,
    "acetone": 2.5,
    "toluene": 1.0,
    "ethylene": 2.3,
    "ammonia": 15.0,
    "acetaldehyde": 4.0,
    "carbon_monoxide": 10.9,
}

_ALIASES: Final[dict[str, str]] = {
    "natural_gas": "methane",
    "lpg": "propane",
    "co": "carbon_monoxide",
    "h2": "hydrogen",
    "ch4": "methane",
    "c3h8": "propane",
    "nh3": "ammonia",
}

LEL_TABLES: Final[dict[str, dict[str, float]]] = {"niosh": _NIOSH, "iec": _IEC}
GASES: Final[tuple[str, ...]] = tuple(sorted(set(_NIOSH) | set(_ALIASES)))


def canonical_gas(gas: str) -> str:
    """Map a gas name or alias (``lpg``, ``natural_gas``, ``CH4``) to the table's name."""
    key = gas.strip().lower().replace("-", "_").replace(" ", "_")
    return _ALIASES.get(key, key)


def lel_vol_pct(gas: str, basis: str = "niosh") -> float:
    """LEL of ``gas`` in volume percent in air, from the chosen table.

    >>> lel_vol_pct("methane")
    5.0
    >>> lel_vol_pct("lpg", basis="iec")
    1.7
    """
    try:
        table = LEL_TABLES[basis]
    except KeyError:
        raise ValueError(f"unknown LEL basis {basis!r}; choose one of {sorted(LEL_TABLES)}") from None
    name = canonical_gas(gas)
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"no LEL for gas {gas!r}; known gases: {', '.join(GASES)}") from None


def ppm_to_lel_pct(ppm: float, lel_vol: float) -> float:
    """Convert a concentration in ppm (by volume) to %LEL.

    1 vol % is 10,000 ppm, so %LEL = ppm / (LEL_vol% * 10,000) * 100 = ppm / (LEL_vol% * 100).

    >>> ppm_to_lel_pct(10_000, 5.0)
    20.0
    """
    return ppm / (lel_vol * 100.0)

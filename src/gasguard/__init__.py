"""GasGuard: gas detection, alarms and automatic valve shut-off."""

__version__ = "0.1.0"

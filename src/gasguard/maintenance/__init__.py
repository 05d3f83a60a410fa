"""Maintenance and compliance: calibration, bump, stroke and proof-test records, due dates, zero drift,
alarm KPIs (ISA-18.2 / EEMUA 191), the auditor's report and the what-if replay.

The package sits over ``storage/`` and the pure safety core and is never on the safety path: the test
recorder and the due-date watcher are bus consumers like the notifications, and the replay calls
``gasguard.safety.interlock.step`` directly on stored readings. Nothing here may delay, veto or clear
a trip; an overdue calibration is a health warning, never a trip.

This ``__init__`` imports nothing, so ``gasguard.config`` can import ``maintenance.config`` without
pulling storage or web modules in.
"""

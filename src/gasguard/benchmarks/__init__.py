"""Benchmarks of a running GasGuard: end-to-end trip latency, ingest into storage, memory, load.

``gasguard bench all`` gathers these with the existing safety-core, sensor-model and vision
benchmarks into one results file, each figure beside its target and the published or commercial
figure it is held against (``figures.REFERENCES``). Nothing here is imported by the service itself.
"""

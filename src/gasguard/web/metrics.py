"""Prometheus metrics, on a registry owned by the app (no process-global registry)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gasguard.services import Services


class ServiceCollector(Collector):
    """Reads the live numbers of the services at scrape time."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        health = self._services.writer.health()
        yield GaugeMetricFamily("gasguard_reading_buffer", "Readings waiting to be stored", value=health.buffered)
        yield GaugeMetricFamily("gasguard_reading_buffer_capacity", "Reading buffer size", value=health.capacity)
        yield GaugeMetricFamily("gasguard_readings_written", "Readings stored since start", value=health.written)
        yield GaugeMetricFamily(
            "gasguard_readings_dropped", "Readings dropped because the buffer was full", value=health.dropped
        )
        yield GaugeMetricFamily(
            "gasguard_events_pending", "Events waiting to be stored", value=self._services.recorder.pending
        )
        yield GaugeMetricFamily(
            "gasguard_notify_dropped",
            "Live messages dropped for slow subscribers",
            value=self._services.bus.dropped_total,
        )
        yield GaugeMetricFamily(
            "gasguard_notify_subscribers", "Live subscribers", value=self._services.bus.subscriber_count
        )


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "gasguard_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "gasguard_http_request_seconds", "HTTP request duration", ["method", "route"], registry=registry
        )


def install(services: Services) -> HttpMetrics:
    services.registry.register(ServiceCollector(services))
    return HttpMetrics(services.registry)

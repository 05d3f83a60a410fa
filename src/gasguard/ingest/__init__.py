"""Ingestion: payload parsing, MQTT source and publisher, dataset replay."""

"""Valve drivers: simulated, and (later) Modbus and MQTT. One small protocol, retries in one place."""

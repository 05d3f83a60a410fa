"""Device drivers beside the safety core: valves and outputs (sounders, beacons, fans, relays, the fault
relay), simulated, on Modbus TCP coils or over MQTT. One small protocol each, retries in one place
(``base``), heartbeats for the devices' own watchdogs in another (``heartbeat``)."""

"""Where the benchmarks find their servers unless told otherwise (no imports: read by the CLI at start)."""

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"

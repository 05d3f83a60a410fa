"""Thermal and optical-gas-imaging vision: frames, plume simulator, models, ONNX serving."""

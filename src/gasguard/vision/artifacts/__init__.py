"""Shipped ONNX models and their model card (data files; see MODEL_CARD.md)."""

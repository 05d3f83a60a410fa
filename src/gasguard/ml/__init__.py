"""Sensor machine learning: loaders, streaming features, models, evaluation."""

"""Physically based gas-plume simulator for thermal and optical-gas-imaging (OGI) cameras.

NumPy only (no PyTorch, no OpenCV) so it runs anywhere the serving path runs. It exists because real
labelled OGI footage is not available here: the segmentation model is trained and evaluated on its
clips, and the CLI writes clips from it to exercise every frame source.
"""

from gasguard.vision.sim.clip import Clip, SceneParams, random_scene, simulate_clip

__all__ = ["Clip", "SceneParams", "random_scene", "simulate_clip"]

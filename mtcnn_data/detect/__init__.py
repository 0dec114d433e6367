"""The MTCNN cascade in PyTorch: networks, checkpoint loading and the detector.

Importing this package imports torch; the CLI imports it only inside ``detect``/``mine``.
"""

from .checkpoints import CheckpointError, LoadedStage, load_stage
from .detector import Candidates, Detections, Detector, DetectorConfig, draw_detections, match_faces
from .models import ONet, PNet, RNet, build_model

__all__ = [
    "CheckpointError",
    "LoadedStage",
    "load_stage",
    "Candidates",
    "Detections",
    "Detector",
    "DetectorConfig",
    "draw_detections",
    "match_faces",
    "PNet",
    "RNet",
    "ONet",
    "build_model",
]

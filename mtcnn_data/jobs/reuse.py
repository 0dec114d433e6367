"""P-Net candidates kept by ``mine --stage rnet`` and taken back by ``mine --stage onet --reuse DIR``.

An R-Net mining run writes, per work unit, one deflated ``candidates/uNNNNNN.npz``
beside its shards holding, for every WIDER image it planned, exactly what R-Net would
receive from P-Net (after P-Net's NMS and calibration):

- ``images`` (str): image identities ``dataset/relative/path``;
- ``sha256`` (S64): each image file's sha256 when it was mined;
- ``counts`` (int64): candidates per image, in ``images`` order;
- ``crops`` int32 (N, 4), ``boxes`` float32 (N, 4), ``scores`` float32 (N,): the
  :class:`~mtcnn_data.detect.detector.Candidates` of all images, concatenated.

The manifest describes them under ``candidates`` (the P-Net checkpoint, the detector
settings that shape P-Net's output, the tool version, the number of images). An O-Net
run takes them only when all of those match its own and each image file's sha256 is the
one recorded; it refuses otherwise, naming what differs. Output is byte-identical with
or without ``--reuse``, so ``--reuse`` is not part of the resume fingerprint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import ReuseError
from ..io.files import atomic_save_npz, read_json

FOLDER = "candidates"
#: DetectorConfig fields that decide P-Net's candidates (the others act after P-Net, or
#: only on speed: threads, batch size).
PNET_SETTINGS = ("min_face", "factor", "nms_scale", "nms_pyramid", "device", "channel_order", "mean", "scale",
                 "channels_last")
_FIX = "run without --reuse (P-Net then runs again), or mine --stage rnet again with this run's settings"


def unit_file(folder, unit_index: int) -> Path:
    return Path(folder) / f"u{unit_index:06d}.npz"


def save_unit(path, kept: list) -> None:
    """``kept``: ``(identity, sha256, Candidates)`` per image of one unit."""
    cands = [c for _, _, c in kept]
    atomic_save_npz(
        path,
        images=np.array([k[0] for k in kept], dtype=str),
        sha256=np.array([k[1] for k in kept], dtype="S64"),
        counts=np.array([len(c) for c in cands], dtype=np.int64),
        crops=_stacked([c.crops for c in cands], (0, 4), np.int32),
        boxes=_stacked([c.boxes for c in cands], (0, 4), np.float32),
        scores=_stacked([c.scores for c in cands], (0,), np.float32),
    )


def _stacked(parts, empty_shape, dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(empty_shape, dtype)


def pnet_settings(detector_dict: dict) -> dict:
    """What must match for kept candidates to be this run's P-Net output."""
    config = detector_dict["config"]
    pnet = detector_dict["stages"][0]
    return {"tool_version": __version__, "pnet_sha256": pnet["sha256"], "pnet_threshold": config["thresholds"][0],
            **{k: config[k] for k in PNET_SETTINGS}}


def describe(folder, detector_dict: dict) -> dict:
    """The manifest's ``candidates`` section of a finished R-Net run."""
    files = sorted(Path(folder).glob("u*.npz"))
    images = 0
    for f in files:
        with np.load(f) as z:
            images += len(z["counts"])
    return {"folder": FOLDER, "files": len(files), "images": images, "pnet_checkpoint": detector_dict["stages"][0],
            "matches": pnet_settings(detector_dict)}


def check_reusable(reuse_dir, detector_dict: dict) -> Path:
    """The candidates folder of ``reuse_dir`` when its P-Net matches this run's; else ReuseError."""
    reuse_dir = Path(reuse_dir)
    manifest_path = reuse_dir / "manifest.json"
    if not manifest_path.exists():
        raise ReuseError(f"--reuse {reuse_dir}: no manifest.json there; give the --out of a finished "
                         "`mine --stage rnet` run")
    manifest = read_json(manifest_path)
    section = manifest.get("candidates")
    if section is None:
        raise ReuseError(f"--reuse {reuse_dir}: that run (stage {manifest.get('stage')}) kept no P-Net candidates; "
                         f"give the --out of a `mine --stage rnet` run made by mtcnn-data {__version__}, or {_FIX}")
    ours = pnet_settings(detector_dict)
    theirs = section.get("matches", {})
    diff = [k for k in ours if theirs.get(k) != ours[k]]
    if diff:
        details = "; ".join(f"{k}: {theirs.get(k)!r} there, {ours[k]!r} here" for k in diff)
        raise ReuseError(f"--reuse {reuse_dir}: its P-Net candidates were made with other settings ({details}); {_FIX}")
    return reuse_dir / section["folder"]


class KeptCandidates:
    """Look-up of kept candidates by image identity (one per worker; files read lazily)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self._where = {}
        for f in sorted(self.folder.glob("u*.npz")):
            with np.load(f) as z:
                for i, identity in enumerate(z["images"]):
                    self._where[str(identity)] = (f, i)
        self._loaded = (None, None)

    def get(self, identity: str, sha256: str):
        """The :class:`Candidates` kept for the image; ReuseError when it is absent or changed."""
        from ..detect.detector import Candidates

        if identity not in self._where:
            raise ReuseError(f"--reuse {self.folder.parent}: image {identity} has no kept candidates (that run did not "
                             f"plan it: another image list, or it was skipped there); {_FIX}")
        path, i = self._where[identity]
        arrays = self._arrays(path)
        if arrays["sha256"][i].decode() != sha256:
            raise ReuseError(f"--reuse {self.folder.parent}: image {identity} changed since that run "
                             f"(sha256 {arrays['sha256'][i].decode()[:16]}... there, {sha256[:16]}... now); {_FIX}")
        start, stop = arrays["starts"][i], arrays["starts"][i + 1]
        return Candidates(arrays["crops"][start:stop].astype(np.int64), arrays["boxes"][start:stop],
                          arrays["scores"][start:stop])

    def _arrays(self, path) -> dict:
        if self._loaded[0] != path:
            with np.load(path) as z:
                arrays = {k: z[k] for k in ("sha256", "crops", "boxes", "scores")}
                arrays["starts"] = np.concatenate([[0], np.cumsum(z["counts"])])
            self._loaded = (path, arrays)
        return self._loaded[1]

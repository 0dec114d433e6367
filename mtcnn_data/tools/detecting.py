"""The cascade over many image files: in this process, or on worker processes or a cluster.

``detect`` and ``evaluate`` run it. With one local worker the detector runs here with the
threads torch chooses (or ``DetectorConfig.num_threads``); with ``workers`` > 1 (or a Dask /
Ray backend, :mod:`mtcnn_data.engine.backends`) each worker process loads the checkpoints
once and detects whole images, one thread each unless ``num_threads`` says otherwise.
Either way the detections come back in the order of the paths given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

from ..engine.backends import parse_backend
from ..engine.parallel import run_parallel
from ..engine.progress import make_progress
from ..io.images import read_rgb


@dataclass(frozen=True)
class DetectorSpec:
    """What builds a detector on any process: checkpoints (paths or ``"facenet"``) and the
    :class:`~mtcnn_data.detect.detector.DetectorConfig` (``None``: the defaults)."""

    pnet: str
    rnet: Optional[str] = None
    onet: Optional[str] = None
    config: object = None

    def build(self):
        """This process's detector for the spec (built once per process)."""
        from ..detect.detector import cached_detector

        detector = cached_detector(self.pnet, self.rnet, self.onet, self.config)
        if detector.config.num_threads:  # a worker's thread limit is set before every item
            import torch

            torch.set_num_threads(int(detector.config.num_threads))
        return detector


class _DetectImage:
    """The worker's task: ``(index, path)`` -> ``(index, detections)``."""

    def __init__(self, spec: DetectorSpec):
        self.spec = spec

    def __call__(self, item):
        i, path = item
        return i, self.spec.build().detect(read_rgb(path))


def in_process(workers: int, backend: str) -> bool:
    """Whether the run stays in this process (one local worker)."""
    return workers <= 1 and parse_backend(backend)[0] == "loky"


def detect_paths(detector, paths: Sequence, workers: int = 1, backend: str = "loky",
                 progress=None) -> Iterator[Tuple[str, object]]:
    """``(path, Detections)`` for every path, in order, with a progress bar on a terminal
    (``progress``: force it on or off). ``detector``: a :class:`DetectorSpec`, or (in this
    process only) a built :class:`~mtcnn_data.detect.detector.Detector`. A spec's
    checkpoints are loaded here first, so that a bad one fails before any worker starts."""
    return ((path, found) for path, found, _ in _detected(detector, paths, workers, backend, progress))


def _detected(detector, paths: Sequence, workers: int, backend: str, progress) -> Iterator[tuple]:
    """``(path, Detections, image)``: the decoded image when the detector ran in this
    process (so that drawing it does not decode it again), ``None`` from a worker."""
    spec = detector if isinstance(detector, DetectorSpec) else None
    if spec is not None:
        detector = spec.build()
    elif not in_process(workers, backend):
        raise TypeError("detecting on worker processes needs a DetectorSpec (what each worker builds its detector from)")
    bar = make_progress(len(paths), "detect", progress, unit="image")
    try:
        if in_process(workers, backend):
            for path in paths:
                image = read_rgb(path)
                found = detector.detect(image)
                bar.update(1)
                yield path, found, image
            return
        found: List = [None] * len(paths)
        run_parallel(_DetectImage(spec), enumerate(paths), workers, bar, lambda r: found.__setitem__(*r), backend)
        yield from ((path, f, None) for path, f in zip(paths, found))
    finally:
        bar.close()


def detect_files(paths: Sequence, spec: DetectorSpec, png_dir=None, wider_txt=None, workers: int = 1,
                 backend: str = "loky", progress=None) -> List[dict]:
    """Run the cascade on image files: ``[{"image": path, "faces": [...]}]`` (see
    :meth:`~mtcnn_data.detect.detector.Detections.to_list`); with ``png_dir``, also write
    each image with its faces drawn; with ``wider_txt``, each image's faces in the WIDER
    FACE submission format (``wider_txt/<event>/<image>.txt``, :mod:`mtcnn_data.io.wider_eval`)."""
    from ..io.wider_eval import write_submission

    folder = Path(png_dir) if png_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    used: set = set()
    results = []
    for path, found, image in _detected(spec, paths, workers, backend, progress):
        results.append({"image": os.fspath(path), "faces": found.to_list()})
        if wider_txt is not None:
            write_submission(wider_txt, os.fspath(path), found.boxes, found.scores)
        if folder is not None:
            results[-1]["png"] = os.fspath(_write_png(folder, os.fspath(path), image, found, used))
    return results


def _write_png(folder: Path, image_path: str, image, found, used: set) -> Path:
    """The image (read again when ``None``) with its faces drawn, as ``folder/<stem>.png``
    (``<stem>_k.png`` when another image of the run has the same stem)."""
    import cv2

    from ..detect.detector import draw_detections

    stem = Path(image_path).stem
    name, k = f"{stem}.png", 1
    while name in used:
        name, k = f"{stem}_{k}.png", k + 1
    used.add(name)
    drawn = draw_detections(read_rgb(image_path) if image is None else image, found)
    cv2.imwrite(str(folder / name), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
    return folder / name

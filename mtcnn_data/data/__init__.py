"""A small sample dataset shipped inside the package, for runs that need no download.

``mtcnn-data gen-pnet --out DIR`` with no source options runs on this sample.
It uses the exact official layouts, so the same readers parse it
(:func:`mtcnn_data.io.datasets.wider.read_wider`, :func:`mtcnn_data.io.datasets.celeba.read_celeba`)::

    sample/
    ├── README.md                                  sources, licences, how it was built
    ├── widerface/                                 <- sample_wider_root()
    │   ├── wider_face_split/
    │   │   └── wider_face_train_bbx_gt.txt        official WIDER FACE format, LF
    │   └── WIDER_train/images/0--Sample/
    │       ├── 0_Sample_GraceHopper_1.jpg         1 face   (512x600)
    │       ├── 0_Sample_Astronaut_2.jpg           1 face   (512x512)
    │       ├── 0_Sample_Cameraman_3.jpg           1 face   (512x512, 1-channel greyscale JPEG)
    │       ├── 0_Sample_Collage_4.jpg             4 faces  (640x480, the photos at 4 scales)
    │       ├── 0_Sample_CollageSmall_5.jpg        4 faces  (320x240, the collage at half size)
    │       └── 0_Sample_NoFace_6.jpg              0 faces  (160x320, background crop)
    └── celeba/                                    <- sample_celeba_root()
        ├── Anno/
        │   ├── list_bbox_celeba.txt               image_id x_1 y_1 width height, CRLF
        │   └── list_landmarks_celeba.txt          5 landmarks (in-the-wild coords), CRLF
        ├── Eval/
        │   └── list_eval_partition.txt            "<image_id> 0" for all (train), CRLF
        └── img_celeba/
            └── 000001.jpg ... 000008.jpg          1 face each

WIDER: 6 images, 11 faces (face sizes from 8x10 to 210x187 pixels), one image
without faces (the official ``0`` + all-zero line quirk). CelebA: 8 images,
one face each with five landmarks (left eye, right eye, nose, left mouth corner,
right mouth corner; "left" = image-left); 000003 and 000004 are mirrored copies.

Sources and licences of the photographs (all images here are these three photos,
re-encoded, cropped, rescaled, mirrored or pasted together; see ``sample/README.md``):

- ``grace_hopper.jpg`` from matplotlib (``matplotlib/mpl-data/sample_data/``):
  Commodore Grace M. Hopper, official U.S. Navy portrait (1984). A work of the
  U.S. federal government, hence public domain in the United States; matplotlib
  ships it under its own licence and its package carries no per-file notice for
  the sample data (matplotlib issue #4930).
- ``astronaut.png`` from scikit-image (``skimage/data/``): astronaut Eileen
  Collins, NASA; "No known copyright restrictions, released into the public
  domain" (``skimage.data.astronaut`` docstring).
- ``camera.png`` from scikit-image: "No copyright restrictions. CC0 by the
  photographer (Lav Varshney)" (``skimage.data.camera`` docstring).

All boxes and landmarks were annotated by hand for this package (see README).
Coordinates in the files are the official ones: WIDER ``x y w h`` and CelebA
``x_1 y_1 width height`` both map to the package's ``x1, y1, x2, y2`` with
exclusive ``x2 = x + w``, ``y2 = y + h``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "SAMPLE_WIDER_DIR",
    "SAMPLE_CELEBA_DIR",
    "WIDER_TRAIN_GT",
    "WIDER_TRAIN_IMAGES",
    "CELEBA_BBOX",
    "CELEBA_LANDMARKS",
    "CELEBA_PARTITION",
    "CELEBA_IMAGES",
    "sample_root",
    "sample_wider_root",
    "sample_wider_annotations",
    "sample_wider_images",
    "sample_celeba_root",
    "sample_celeba_files",
]

#: folder of the WIDER FACE sample, relative to :func:`sample_root`.
SAMPLE_WIDER_DIR = "widerface"
#: folder of the CelebA sample, relative to :func:`sample_root`.
SAMPLE_CELEBA_DIR = "celeba"

#: WIDER files relative to :func:`sample_wider_root` (the official names).
WIDER_TRAIN_GT = "wider_face_split/wider_face_train_bbx_gt.txt"
WIDER_TRAIN_IMAGES = "WIDER_train/images"

#: CelebA files relative to :func:`sample_celeba_root` (the official names).
CELEBA_BBOX = "Anno/list_bbox_celeba.txt"
CELEBA_LANDMARKS = "Anno/list_landmarks_celeba.txt"
CELEBA_PARTITION = "Eval/list_eval_partition.txt"
CELEBA_IMAGES = "img_celeba"


def sample_root() -> Path:
    """The bundled ``sample/`` folder (a real directory: the package is not zip-safe)."""
    return Path(__file__).resolve().parent / "sample"


def sample_wider_root() -> Path:
    """Root of the WIDER FACE sample (holds ``wider_face_split/`` and ``WIDER_train/``)."""
    return sample_root() / SAMPLE_WIDER_DIR


def sample_wider_annotations() -> Path:
    """The sample's ``wider_face_train_bbx_gt.txt``."""
    return sample_wider_root() / WIDER_TRAIN_GT


def sample_wider_images() -> Path:
    """The image root the WIDER annotation paths are relative to (``WIDER_train/images``)."""
    return sample_wider_root() / WIDER_TRAIN_IMAGES


def sample_celeba_root() -> Path:
    """Root of the CelebA in-the-wild sample (holds ``Anno/``, ``Eval/``, ``img_celeba/``)."""
    return sample_root() / SAMPLE_CELEBA_DIR


def sample_celeba_files() -> dict:
    """``{"bbox", "landmarks", "partition", "images"}`` -> paths of the CelebA sample."""
    root = sample_celeba_root()
    return {
        "bbox": root / CELEBA_BBOX,
        "landmarks": root / CELEBA_LANDMARKS,
        "partition": root / CELEBA_PARTITION,
        "images": root / CELEBA_IMAGES,
    }

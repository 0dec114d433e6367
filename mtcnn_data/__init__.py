"""mtcnn-data: training data for MTCNN face detectors.

Coordinate convention (the only one used in this package, see docs/conventions.md):
continuous pixel coordinates, origin at the top-left corner of the top-left pixel,
x to the right, y down; pixel (i, j) covers [i, i+1) x [j, j+1). A box is
``(x1, y1, x2, y2)`` with ``x2`` and ``y2`` exclusive, so ``w = x2 - x1`` and
``h = y2 - y1`` (no "+1"). A WIDER box ``x y w h`` is ``(x, y, x + w, y + h)``.
Landmarks are points ``(x, y)`` in the same frame, ordered left eye, right eye,
nose, left mouth corner, right mouth corner, where "left" means image-left.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

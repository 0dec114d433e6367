"""torchvision.transforms.functional.to_tensor (used only by facenet-pytorch's extract_face)."""

import numpy as np
import torch


def to_tensor(pic):
    a = np.asarray(pic)
    t = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1) if a.ndim == 3 else a[None]))
    return t.float().div(255) if t.dtype == torch.uint8 else t.float()

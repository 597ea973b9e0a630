"""Group photos: which of a photo's faces to swap, by index or by closeness of identity to a
reference face (cosine similarity of unit embeddings from an `IdentityEmbedder`).

Similarities are on each embedder's own scale (dlib-resnet puts different people at 0.9 and more),
so without a threshold only the face most like the reference is taken."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lsw_core.errors import ImageError
from lsw_core.images import to_tensor
from lsw_core.interfaces import IdentityEmbedder
from lsw_core.validators import check, number


def check_threshold(threshold: float | None) -> None:
    if threshold is not None:
        check("reference threshold", threshold, number(ge=-1, le=1))


@torch.no_grad()
def identity_similarity(embedder: IdentityEmbedder, crops: Sequence[np.ndarray], reference: np.ndarray) -> np.ndarray:
    """Cosine similarity [N] of each aligned crop's identity embedding to the reference crop's."""
    device = next(iter(embedder.parameters()), torch.zeros(())).device
    images = torch.cat([to_tensor(c, device) for c in [reference, *crops]])
    emb = embedder(images)
    return (emb[1:] @ emb[0]).cpu().numpy()


def faces_to_swap(
    count: int, faces: Sequence[int] | None, similarity: np.ndarray | None, threshold: float | None = None
) -> list[int]:
    """Face indices to swap: those of `faces` (None: all `count`); when `similarity` to a reference
    is given, of them only those at least `threshold` similar, or (threshold None) the most similar."""
    check_threshold(threshold)
    chosen = list(range(count)) if faces is None else list(faces)
    missing = [i for i in chosen if not 0 <= i < count]
    if missing:
        raise ImageError(f"face(s) {missing} requested, but {count} face(s) found (0 = largest)")
    if similarity is not None and chosen:
        if threshold is None:
            return [max(chosen, key=lambda i: similarity[i])]
        chosen = [i for i in chosen if similarity[i] >= threshold]
    return chosen

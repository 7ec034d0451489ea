"""Pictures resized for showing, not for the network: small ones enlarged with their pixels
visible, large ones shrunk. (What the network sees is ``inference.network_input``.)"""

import numpy as np


def enlarge(picture, side):
    """A small picture enlarged by a whole factor with nearest-neighbour: its pixels stay
    visible, and the network's 32×32 resize of it (area) gives back exactly the original."""
    factor = side // max(picture.shape[:2])
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1) if factor > 1 else picture


def shrink(picture, side):
    """A large picture made smaller for display, its longer side ``side`` (a 40-megapixel
    photo's heat map would take 160 MB)."""
    import cv2

    scale = side / max(picture.shape[:2])
    if scale >= 1:
        return picture
    size = (max(1, round(picture.shape[1] * scale)), max(1, round(picture.shape[0] * scale)))
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA)

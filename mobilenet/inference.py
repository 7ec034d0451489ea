"""Classifying pictures with a trained checkpoint.

``Classifier.from_checkpoint(path).top_k(image)`` takes a numpy image in any
common form and answers with class names and probabilities. The picture goes
through the same steps as training data: to uint8 RGB, resized to 32x32 with
area interpolation (the tutorial skipped this), then ``data.preprocess``
(the tutorial divided by 225 and fed OpenCV's BGR to an RGB model).
"""

import time

import numpy as np

from mobilenet.checkpoints import load_checkpoint
from mobilenet.data import CLASS_NAMES, IMAGE_SIZE, preprocess

CHANNEL_ORDERS = ("rgb", "bgr")


def to_rgb_uint8(image, channel_order="rgb", background=255):
    """Any common numpy image -> uint8 RGB ``(H, W, 3)`` at its own size.

    Accepts grayscale ``(H, W)`` or ``(H, W, 1)``, RGB, RGBA (composited onto a
    white ``background``), in uint8, uint16 (16-bit PNGs: scaled by 1/257),
    bool, or float in [0, 1]. ``channel_order="bgr"`` for arrays from OpenCV
    (``cv2.imread``): BGR / BGRA.
    """
    if channel_order not in CHANNEL_ORDERS:
        raise ValueError(f"`channel_order` must be one of {CHANNEL_ORDERS}. Received: {channel_order!r}")
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); "
                         f"got {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"the image is empty (shape {image.shape})")
    pixels = _to_unit_float(image)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    if channel_order == "bgr":
        pixels = pixels[:, :, [2, 1, 0, 3][: pixels.shape[2]]]
    if pixels.shape[2] == 4:
        alpha = pixels[:, :, 3:]
        pixels = pixels[:, :, :3] * alpha + (background / 255.0) * (1 - alpha)
    return np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)


def _to_unit_float(image):
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    if image.dtype == bool:
        return image.astype(np.float32)
    if np.issubdtype(image.dtype, np.floating):
        if not np.all(np.isfinite(image)) or image.min() < 0 or image.max() > 1:
            raise ValueError("float images must hold values in [0, 1]")
        return image.astype(np.float32)
    raise ValueError(f"unsupported pixel type {image.dtype}: use uint8, uint16, bool or float in [0, 1]")


def network_input(image, channel_order="rgb"):
    """The 32x32 uint8 RGB picture the network actually sees."""
    import cv2

    rgb = to_rgb_uint8(image, channel_order)
    if rgb.shape[:2] == (IMAGE_SIZE, IMAGE_SIZE):
        return rgb
    interpolation = cv2.INTER_AREA if min(rgb.shape[:2]) >= IMAGE_SIZE else cv2.INTER_LINEAR
    return cv2.resize(rgb, (IMAGE_SIZE, IMAGE_SIZE), interpolation=interpolation)


class Classifier:
    """A checkpoint's model behind a compiled single-image call.

    ``model.predict`` costs tens of milliseconds per call (it builds a
    dataset and runs callbacks); this uses a ``tf.function`` with a fixed
    ``(1, 32, 32, 3)`` signature, traced and warmed once at load.
    """

    def __init__(self, model, metadata=None, path=None, class_names=CLASS_NAMES):
        import tensorflow as tf

        self.model, self.metadata, self.path = model, metadata or {}, path
        self.class_names = tuple(class_names)

        @tf.function(input_signature=[tf.TensorSpec((1, IMAGE_SIZE, IMAGE_SIZE, 3), tf.float32)])
        def forward(x):
            return model(x, training=False)

        self._forward = forward
        self._forward(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3), np.float32))

    @classmethod
    def from_checkpoint(cls, path):
        model, metadata = load_checkpoint(path)
        return cls(model, metadata, path)

    def probabilities(self, image, channel_order="rgb"):
        """Probabilities of each class (numpy, sums to 1) for one image."""
        x = preprocess(network_input(image, channel_order)[None])
        return np.asarray(self._forward(x))[0]

    def top_k(self, image, k=5, channel_order="rgb"):
        """``[(class name, probability), ...]`` of the ``k`` likeliest classes."""
        if not 1 <= k <= len(self.class_names):
            raise ValueError(f"`k` must be between 1 and {len(self.class_names)}. Received: k={k}")
        probs = self.probabilities(image, channel_order)
        order = np.argsort(probs)[::-1][:k]
        return [(self.class_names[i], float(probs[i])) for i in order]

    def classify(self, image, k=5, channel_order="rgb"):
        """Everything a UI shows: top-k, all probabilities, the 32x32 input, time taken."""
        started = time.perf_counter()
        small = network_input(image, channel_order)
        probs = np.asarray(self._forward(preprocess(small[None])))[0]
        elapsed_ms = (time.perf_counter() - started) * 1000
        order = np.argsort(probs)[::-1][:k]
        return {"top_k": [(self.class_names[i], float(probs[i])) for i in order],
                "probabilities": dict(zip(self.class_names, map(float, probs))),
                "network_input": small, "milliseconds": elapsed_ms}


def read_image(path):
    """Decodes an image file to a numpy RGB/RGBA/gray array, EXIF rotation applied.

    Uses Pillow, which reads more formats (palette, CMYK, 16-bit, animated:
    first frame) than OpenCV and applies EXIF orientation. Raises
    ``ValueError`` with a readable reason for anything that is not an image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.seek(0)
            img = ImageOps.exif_transpose(img)
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.asarray(img, dtype=np.uint16) if img.mode != "I" else \
                    np.clip(np.asarray(img), 0, 65535).astype(np.uint16)
            if img.mode not in ("RGB", "RGBA", "L"):
                img = img.convert("RGBA" if "A" in img.mode or "transparency" in img.info else "RGB")
            return np.asarray(img)
    except FileNotFoundError:
        raise ValueError(f"'{path}' does not exist") from None
    except UnidentifiedImageError:
        raise ValueError(f"'{path}' is not an image file Pillow can read") from None
    except (OSError, SyntaxError) as error:
        raise ValueError(f"'{path}' could not be decoded ({error}); it may be truncated") from None

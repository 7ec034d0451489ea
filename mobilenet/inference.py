"""Classifying pictures with a trained checkpoint.

``Classifier.from_checkpoint(path).top_k(image)`` takes a numpy image in any
common form and answers with class names and probabilities. The picture goes
through the same steps as training data: to uint8 RGB, resized to 32x32 with
area interpolation (the tutorial skipped this), then ``data.preprocess``
(the tutorial divided by 225 and fed OpenCV's BGR to an RGB model).
"""

import os
import threading
import time

import numpy as np

from mobilenet import tta as tta_views
from mobilenet.checkpoints import atomic_write, load_checkpoint
from mobilenet.data import CLASS_NAMES, IMAGE_SIZE, preprocess
from mobilenet.image_checks import check_structure

CHANNEL_ORDERS = ("rgb", "bgr")
MAX_PIXELS = 100_000_000  # a 10000 x 10000 photo decodes to 300 MB; more is refused
# The formats the app names to its users; Pillow is never asked to open anything else (TIFF,
# ICO, EPS, ...: formats nobody photographs in, some with decoders that are slow or call out
# to other programs, such as EPS to Ghostscript).
READABLE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
LITERT_CACHE_FILES = 16  # converted checkpoints kept on disk (a few MB each), newest first
# The converter's output is silenced by swapping sys.stdout, which is process-wide: two
# conversions at once could leave it swapped for good. One at a time (each takes seconds).
_CONVERSION = threading.Lock()


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


ENGINES = ("auto", "litert", "keras")
TTA_CHOICES = ("auto", True, False)


def flip_helps(metadata):
    """Whether averaging a picture's answer with its mirror image's (flip test-time
    augmentation) measured better than the picture alone for this checkpoint: on the
    validation pictures where both were measured, else on the test pictures. False where
    neither pair was measured (a run stopped early, an old checkpoint)."""
    metrics = (metadata or {}).get("metrics") or {}
    for split in ("validation", "test"):
        plain, flipped = metrics.get(f"{split}_accuracy"), metrics.get(f"{split}_accuracy_tta")
        if plain is not None and flipped is not None:
            return flipped > plain
    return False


def answer_accuracy(metadata):
    """``(test accuracy, flip)``: the test accuracy of the answers ``Classifier`` gives for this
    checkpoint (with flip TTA where ``flip_helps``), and whether that is the flip-TTA figure."""
    metrics = (metadata or {}).get("metrics") or {}
    flip = flip_helps(metadata) and metrics.get("test_accuracy_tta") is not None
    return (metrics.get("test_accuracy_tta") if flip else metrics.get("test_accuracy")), flip


class Classifier:
    """A checkpoint's model behind a fast single-image call.

    ``model.predict`` costs tens of milliseconds per call (it builds a
    dataset and runs callbacks). Two faster engines:
      - ``"litert"``: the model converted to a LiteRT (TensorFlow Lite)
        flatbuffer and run by the LiteRT interpreter with its XNNPACK CPU
        kernels, 2 threads: a fraction of a millisecond for one image. The
        conversion (~3 s) is cached on disk by the weights' SHA-256.
      - ``"keras"``: a ``tf.function`` with a fixed ``(1, 32, 32, 3)`` signature (``(2, ...)``
        with ``tta``).
    ``"auto"`` (default) takes LiteRT when ``ai-edge-litert`` is installed.
    Either is traced and warmed at load, and safe to call from many threads.

    ``tta``: with ``True`` each answer is the mean over the picture's views (its mirror image,
    and shifted copies where the checkpoint measured with them: ``self.views``, ``mobilenet.tta``),
    in one call; ``"auto"`` (default) does so where the checkpoint measured better that way
    (``flip_helps``). ``self.tta`` says which.
    """

    def __init__(self, model, metadata=None, path=None, class_names=CLASS_NAMES, engine="auto",
                 tta="auto"):
        if engine not in ENGINES:
            raise ValueError(f"`engine` must be one of {ENGINES}. Received: engine={engine!r}")
        if not (isinstance(tta, bool) or tta == "auto"):
            raise ValueError(f"`tta` must be one of {TTA_CHOICES}. Received: tta={tta!r}")
        self.model, self.metadata, self.path = model, metadata or {}, path
        self.class_names = tuple(class_names)
        if engine == "auto":
            engine = "litert" if _litert_available() else "keras"
        self.engine = engine
        recorded = tta_views.recorded_views(self.metadata)
        self.tta = bool(flip_helps(self.metadata) if tta == "auto" else tta) and recorded in tta_views.KINDS
        self.views = recorded if self.tta else None  # as measured; a kind unknown here: the picture alone
        batch = tta_views.view_count(self.views) if self.tta else 1
        self._forward = _litert_forward(model, self.metadata.get("weights_sha256"), batch) \
            if engine == "litert" else _keras_forward(model, batch)
        self._forward(np.zeros((batch, IMAGE_SIZE, IMAGE_SIZE, 3), np.float32))

    @classmethod
    def from_checkpoint(cls, path, engine="auto", tta="auto"):
        model, metadata = load_checkpoint(path)
        return cls(model, metadata, path, engine=engine, tta=tta)

    def _answer(self, small):
        x = np.asarray(preprocess(small[None]))
        if self.tta:
            return tta_views.combine(self._forward(tta_views.views(x, self.views)), self.views)[0]
        return self._forward(x)[0]

    def probabilities(self, image, channel_order="rgb"):
        """Probabilities of each class (numpy, sums to 1) for one image."""
        return self._answer(network_input(image, channel_order))

    def top_k(self, image, k=5, channel_order="rgb"):
        """``[(class name, probability), ...]`` of the ``k`` likeliest classes."""
        return self.classify(image, k, channel_order)["top_k"]

    def classify(self, image, k=5, channel_order="rgb"):
        """Everything a UI shows: top-k, all probabilities, the 32x32 input, time taken, and
        whether the answer averaged the mirror image's (``tta``)."""
        if not 1 <= k <= len(self.class_names):
            raise ValueError(f"`k` must be between 1 and {len(self.class_names)}. Received: k={k}")
        started = time.perf_counter()
        small = network_input(image, channel_order)
        probs = self._answer(small)
        elapsed_ms = (time.perf_counter() - started) * 1000
        order = np.argsort(probs)[::-1][:k]
        return {"top_k": [(self.class_names[i], float(probs[i])) for i in order],
                "probabilities": dict(zip(self.class_names, map(float, probs))),
                "network_input": small, "milliseconds": elapsed_ms, "tta": self.tta, "views": self.views}


def _keras_forward(model, batch=1):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((batch, IMAGE_SIZE, IMAGE_SIZE, 3), tf.float32)])
    def forward(x):
        return model(x, training=False)

    return lambda x: np.asarray(forward(x))


def _litert_available():
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def to_litert(model):
    """The model as a LiteRT (TFLite) float32 flatbuffer (BN folded into the convolutions)."""
    import contextlib
    import io

    import tensorflow as tf

    with _CONVERSION, contextlib.redirect_stdout(io.StringIO()):  # it prints its temp paths
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def _litert_forward(model, weights_sha256=None, batch=1):
    from ai_edge_litert.interpreter import Interpreter

    flatbuffer = _cached_flatbuffer(model, weights_sha256)
    interpreter = Interpreter(model_content=flatbuffer, num_threads=2)
    input_index = interpreter.get_input_details()[0]["index"]
    if batch != 1:
        interpreter.resize_tensor_input(input_index, [batch, IMAGE_SIZE, IMAGE_SIZE, 3], strict=False)
    interpreter.allocate_tensors()
    output_index = interpreter.get_output_details()[0]["index"]
    lock = threading.Lock()  # one interpreter, many Gradio worker threads

    def forward(x):
        with lock:
            interpreter.set_tensor(input_index, np.ascontiguousarray(x, np.float32))
            interpreter.invoke()
            return interpreter.get_tensor(output_index).copy()

    return forward


def _cached_flatbuffer(model, weights_sha256):
    if not weights_sha256:
        return to_litert(model)
    folder = os.path.join(os.path.expanduser("~"), ".cache", "mobilenet-lab", "litert")
    import tensorflow as tf

    path = os.path.join(folder, f"{weights_sha256}-tf{tf.__version__}.tflite")
    try:
        with open(path, "rb") as f:
            flatbuffer = f.read()
        os.utime(path)  # recently used: pruned last
        return flatbuffer
    except OSError:
        pass
    flatbuffer = to_litert(model)
    try:
        os.makedirs(folder, exist_ok=True)
        atomic_write(path, lambda tmp: _write_bytes(tmp, flatbuffer))
        _prune(folder, LITERT_CACHE_FILES)
    except OSError:  # a read-only home or a full disk only costs the conversion next time
        pass
    return flatbuffer


def _write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _prune(folder, keep):
    """Removes all but the ``keep`` newest files of ``folder`` (each app run adds one)."""
    files = sorted((os.path.join(folder, name) for name in os.listdir(folder)),
                   key=os.path.getmtime, reverse=True)
    for old in files[keep:]:
        os.remove(old)


class ImageTooLarge(ValueError):
    """The picture has more pixels than allowed (checked from its header)."""


class TooSlowToDecode(ImageTooLarge):
    """The picture is in a format that can only be decoded in full, and has more pixels than
    decode in about a third of a second (checked from its header). ``.format`` is Pillow's name of
    the format, ``.limit`` its limit in megapixels."""

    def __init__(self, message, format, limit):
        super().__init__(message)
        self.format, self.limit = format, limit

    def __reduce__(self):  # it crosses from a worker process by pickle, with its fields
        return type(self), (str(self), self.format, self.limit)


# Pictures are read with their longer side at most this long: the network sees 32×32, and the
# largest view of a picture (Look inside's Grad-CAM overlay) is 800 pixels wide. A JPEG is
# decoded at a reduced scale (libjpeg's DCT scaling, ``Image.draft``): a 40-megapixel photo
# costs about what a 2.5-megapixel one does. Other formats are decoded in full, then reduced.
READ_SIDE = 1024
# Formats that can only be decoded in full, and the megapixels ``read_image`` reads in about
# 0.25 s of CPU on a 2-core server, so that a whole Classify or Grad-CAM (another 0.15 to 0.3 s)
# stays near half a second: from ``scripts/decode_bench.py``, the worst kind of each format (an
# RGBA PNG: 0.025 s per megapixel, a photo-like WebP 0.022, a photo-like GIF 0.009; figures in
# docs/RELIABILITY.md). JPEG (draft decoding: 0.135 s for 40 megapixels) and BMP (0.0035 s/MP)
# stay under the bound up to ``max_pixels`` (the app: 40).
DECODE_MEGAPIXELS = {"PNG": 10, "WEBP": 10, "GIF": 20}
FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "GIF": "GIF", "BMP": "BMP"}


def read_image(path, max_pixels=None, max_side=READ_SIDE, decode_limits=None):
    """Decodes an image file to a numpy RGB/RGBA/gray array, EXIF rotation applied.

    Uses Pillow, which reads more variants (palette, CMYK, 16-bit, animated:
    first frame) than OpenCV and applies EXIF orientation, for ``READABLE_FORMATS`` only. Raises
    ``ValueError`` with a readable reason for anything that is not an image,
    and its subclass ``ImageTooLarge`` for more than ``max_pixels`` (default
    ``MAX_PIXELS``; checked from the header, before decoding).

    Bounded in CPU time as well as in pixels: the picture comes back with its longer side at
    most ``max_side`` pixels (None: its own size), a JPEG decoded at a reduced scale
    (``Image.draft``), any other format decoded in full and then reduced. A picture in a
    format that ``decode_limits`` names (default ``DECODE_MEGAPIXELS``: PNG, WebP, GIF)
    with more megapixels than its limit raises ``TooSlowToDecode`` (an ``ImageTooLarge``)
    from the header, before decoding; ``decode_limits={}`` lifts those limits.

    Before Pillow sees the file, ``mobilenet.image_checks.check_structure`` counts its scans,
    chunks or blocks from its framing alone, and raises ``StructureError`` (a ``ValueError``) for
    a file built of more of them than it can be decoded quickly with (a progressive JPEG of 1,000
    scans, a PNG of a million empty chunks).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        check_structure(path)
        with Image.open(path, formats=READABLE_FORMATS) as img:
            limit = max_pixels or MAX_PIXELS
            if img.width * img.height > limit:
                raise ImageTooLarge(f"'{path}' is {img.width}x{img.height} pixels; the limit is "
                                    f"{limit / 1e6:g} megapixels: shrink it first")
            slow = (DECODE_MEGAPIXELS if decode_limits is None else decode_limits).get(img.format)
            if slow and img.width * img.height > slow * 1_000_000:
                name = FORMAT_NAMES.get(img.format, img.format)
                raise TooSlowToDecode(f"'{path}' is {img.width}x{img.height} pixels; a {name} "
                                      f"picture is decoded in full, and the limit for {name} is "
                                      f"{slow:g} megapixels: shrink it or save it as JPEG",
                                      img.format, slow)
            img.seek(0)
            orientation = img.getexif().get(0x0112)
            if max_side and img.format in ("JPEG", "MPO"):  # MPO: a JPEG with more pictures after it
                img.draft(None, (max_side, max_side))  # decodes at 1/2, 1/4 or 1/8 scale
            return _upright(_as_array(_reduced(img, max_side)), orientation)
    except FileNotFoundError:
        raise ValueError(f"'{path}' does not exist") from None
    except UnidentifiedImageError:
        raise ValueError(f"'{path}' is not a JPEG, PNG, WebP, GIF or BMP picture") from None
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"'{path}' declares an enormous size (a decompression bomb?)") from None
    except (OSError, SyntaxError) as error:
        raise ValueError(f"'{path}' could not be decoded ({error}); it may be truncated") from None


def _reduced(img, max_side):
    """The decoded picture in a mode ``_as_array`` takes, its longer side at most ``max_side``
    (a box average over whole blocks: cheap, and what area interpolation would do)."""
    if img.mode in ("I;16", "I;16B", "I;16L"):
        img = img.convert("I")
    elif img.mode not in ("RGB", "RGBA", "L", "I"):
        img = img.convert("RGBA" if "A" in img.mode or "transparency" in img.info else "RGB")
    longest = max(img.size)
    if max_side and longest > max_side:
        factor = -(-longest // max_side)  # a whole factor: the mean of factor × factor pixels
        # Whole blocks only (at most factor - 1 edge pixels left out), so that the aspect is
        # rounded as a resize would (2400×1600 / 3: 800×533, not 800×534).
        box = tuple(side - side % factor if side >= factor else side for side in img.size)
        img = img.reduce(factor, box=(0, 0, *box))
    return img


def _as_array(img):
    if img.mode == "I":  # 16-bit pictures stay 16-bit
        return np.clip(np.asarray(img), 0, 65535).astype(np.uint16)
    return np.asarray(img)


def _upright(pixels, orientation):
    """``pixels`` turned as the EXIF orientation says (as ``ImageOps.exif_transpose``), after
    the reduction: turning a 1-megapixel array costs less than turning the full picture."""
    return np.ascontiguousarray(_turned(pixels, orientation))


def _turned(pixels, orientation):
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    if orientation == 5:
        return pixels.swapaxes(0, 1)
    if orientation == 6:
        return pixels.swapaxes(0, 1)[:, ::-1]
    if orientation == 7:
        return pixels.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return pixels.swapaxes(0, 1)[::-1]
    return pixels

"""The test pictures a checkpoint gets most confidently wrong, by the class pairs it confuses most.

``find_mistakes(model, data)`` classifies the CIFAR-10 test set once (about
half a minute on two CPU cores for the cifar variant at alpha 1) and returns
the confusion matrix, the most-confused class pairs counted in both directions
(cat taken for dog plus dog taken for cat) and, for each direction, the wrong
answers given with the highest confidence, as test-set indices.

``MistakesCache`` keeps those results per (weights SHA-256, test set) in
memory and as small JSON files (indices, never pixels), both bounded, so each
checkpoint's test set is classified once.
"""

import collections
import hashlib
import json
import os
import threading

import numpy as np

from mobilenet.checkpoints import atomic_write
from mobilenet.evaluate import classification_report, compiled_forward, predict_probabilities

FORMAT = "mobilenet-lab-mistakes/1"
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "mobilenet-lab", "mistakes")
MAX_FILE_BYTES = 1_000_000  # a result is a few kilobytes (indices and confidences, no pictures)


def confused_pairs(confusion, top_pairs=6):
    """``[(a, b, mistakes)]`` with ``a < b``: the class pairs most often taken for each
    other (both directions summed), most mistakes first; pairs without a mistake are left out."""
    confusion = np.asarray(confusion)
    both = confusion + confusion.T
    pairs = [(a, b, int(both[a, b])) for a in range(len(both)) for b in range(a + 1, len(both))
             if both[a, b] > 0]
    return sorted(pairs, key=lambda pair: -pair[2])[:top_pairs]


def mistakes_from_probabilities(probabilities, labels, top_pairs=6, per_direction=4):
    """The mistakes report of ``find_mistakes`` from a model's test-set probabilities.

    Returns:
        ``{"format", "images", "accuracy", "confusion_matrix", "pairs"}``; each pair is
        ``{"classes": [a, b], "mistakes", "directions"}`` with two directions (a taken for b,
        b taken for a), each ``{"true", "predicted", "count", "examples"}``, and each example
        ``{"index", "confidence"}``: the most confident mistakes first.
    """
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    predicted = np.argmax(probabilities, axis=1)
    confidence = probabilities[np.arange(len(labels)), predicted]
    report = classification_report(probabilities, labels)
    confusion = np.asarray(report["confusion_matrix"])

    def direction(true, said):
        wrong = np.flatnonzero((labels == true) & (predicted == said))
        wrong = wrong[np.argsort(-confidence[wrong], kind="stable")][:per_direction]
        return {"true": true, "predicted": said, "count": int(confusion[true, said]),
                "examples": [{"index": int(i), "confidence": float(confidence[i])} for i in wrong]}

    pairs = [{"classes": [a, b], "mistakes": count, "directions": [direction(a, b), direction(b, a)]}
             for a, b, count in confused_pairs(confusion, top_pairs)]
    return {"format": FORMAT, "images": int(len(labels)), "accuracy": report["accuracy"],
            "confusion_matrix": report["confusion_matrix"], "pairs": pairs}


def find_mistakes(model, data, top_pairs=6, per_direction=4, batch_size=500, progress=None):
    """Classifies ``data``'s test set and reports its most confident mistakes.

    Args:
        model: a ``build_mobilenet`` model.
        data: a ``mobilenet.data.Cifar10`` (its ``x_test`` and ``y_test`` are used).
        top_pairs: most-confused class pairs reported. Default 6.
        per_direction: most confident mistakes kept for each direction of a pair. Default 4.
        batch_size: images per forward pass. Default 500.
        progress: called as ``progress(images_done, images_total)``. Default None.

    Returns:
        See ``mistakes_from_probabilities``.
    """
    images, total = data.x_test, len(data.x_test)
    forward = compiled_forward(model)
    chunk = batch_size * 4
    outputs = []
    for start in range(0, total, chunk):
        outputs.append(predict_probabilities(model, images[start:start + chunk], batch_size,
                                             forward=forward))
        if progress is not None:
            progress(min(start + chunk, total), total)
    probabilities = np.concatenate(outputs) if outputs else np.zeros((0, model.output_shape[-1]))
    return mistakes_from_probabilities(probabilities, data.y_test, top_pairs, per_direction)


def test_set_fingerprint(data):
    """A short hash naming the test set: the archive's SHA-256, else one of the arrays."""
    digest = hashlib.sha256()
    if data.sha256:
        digest.update(data.sha256.encode())
    else:
        digest.update(np.ascontiguousarray(data.x_test).tobytes())
    digest.update(np.asarray(data.y_test, np.int64).tobytes())
    return digest.hexdigest()[:16]


class MistakesCache:
    """``find_mistakes`` results kept per checkpoint and test set; safe to share between threads.

    Args:
        folder: where the JSON files go. Default ``CACHE_DIR``
            (``~/.cache/mobilenet-lab/mistakes``); None-like or unwritable: memory only.
        keep_files: JSON files kept (least recently used removed). Default 20.
        keep_in_memory: results kept in memory. Default 8.
    """

    def __init__(self, folder=CACHE_DIR, keep_files=20, keep_in_memory=8):
        self.folder, self.keep_files, self.keep_in_memory = folder, keep_files, keep_in_memory
        self._memory = collections.OrderedDict()
        self._computing = {}  # key -> lock held while that key is computed
        self._lock = threading.Lock()
        # (data, its fingerprint): the test set of the last call, hashed once, not per request
        # (a folder's has no archive hash: 30 MB of pictures, ~23 ms)
        self._test_set = (None, None)

    def mistakes(self, model, weights_sha256, data, top_pairs=6, per_direction=4, progress=None):
        """The cached ``find_mistakes(model, data, top_pairs, per_direction)``, computed once.

        Without ``weights_sha256`` nothing names the weights, so nothing is cached.
        """
        if not weights_sha256:
            return find_mistakes(model, data, top_pairs, per_direction, progress=progress)
        key = self._key(weights_sha256, data, top_pairs, per_direction)
        with self._lock:
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:  # two students asking for the same checkpoint: one computes
            result = self._remembered(key, len(data.x_test))
            if result is None:
                result = find_mistakes(model, data, top_pairs, per_direction, progress=progress)
                self._store(key, result)
            with self._lock:
                self._memory[key] = result
                self._memory.move_to_end(key)
                while len(self._memory) > self.keep_in_memory:
                    evicted, _ = self._memory.popitem(last=False)
                    self._computing.pop(evicted, None)
            return result

    def remembered(self, weights_sha256, data, top_pairs=6, per_direction=4):
        """What ``mistakes`` would answer, if it is kept (in memory, or on disk by any process
        sharing the folder); else None. Loads no network and reads one small file at most: cheap
        enough for a web server's thread."""
        if not weights_sha256:
            return None
        return self._remembered(self._key(weights_sha256, data, top_pairs, per_direction), len(data.x_test))

    def _key(self, weights_sha256, data, top_pairs, per_direction):
        seen, fingerprint = self._test_set
        if seen is not data:
            fingerprint = test_set_fingerprint(data)
            self._test_set = (data, fingerprint)
        return f"{weights_sha256}-{fingerprint}-{top_pairs}x{per_direction}"

    def _path(self, key):
        return os.path.join(self.folder, f"{key}.json")

    def _remembered(self, key, images):
        with self._lock:
            if key in self._memory:
                return self._memory[key]
        if not self.folder:
            return None
        try:
            if os.path.getsize(self._path(key)) > MAX_FILE_BYTES:  # not one of ours
                return None
            with open(self._path(key), encoding="utf-8") as f:
                result = json.load(f)
            os.utime(self._path(key))  # recently used: pruned last
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        return result if _valid(result, images) else None

    def _store(self, key, result):
        if not self.folder:
            return
        try:
            os.makedirs(self.folder, exist_ok=True)
            atomic_write(self._path(key), lambda tmp: _write_json(tmp, result))
            files = sorted((entry.stat().st_mtime_ns, entry.path) for entry in os.scandir(self.folder)
                           if entry.name.endswith(".json"))
            for _, path in files[:-self.keep_files]:
                os.remove(path)
        except OSError:  # a read-only or full disk only costs the computation next time
            pass


def _valid(result, images):
    """A cached result is used only if it is ours and its indices fit this test set."""
    try:
        return (result["format"] == FORMAT and result["images"] == images
                and all(0 <= example["index"] < images for pair in result["pairs"]
                        for direction in pair["directions"] for example in direction["examples"]))
    except (KeyError, TypeError):
        return False


def _write_json(path, result):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f)

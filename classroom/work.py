"""The model work of the page's requests, run in worker processes (``classroom.work_pool``).

``Work`` is what the tabs call: two pools, *quick* (decoding a picture, Classify, Grad-CAM, feature
maps, a network's structure and kernels: a tenth of a second each) and *long* (Mistakes' pass
over the test set, exporting to LiteRT: seconds to a minute), so a long export never holds up a
student's Classify. Each call names a checkpoint by its path (looked up in the catalog by the
server: a key from a browser is never a path) and a picture by its upload's path (checked by the
server to be in the upload folder); what comes back is plain data: numbers, small arrays, dicts.

The functions below ``Work`` run in the workers. Each worker keeps its own few loaded networks
(``_classifier``), and the long one its own copy of CIFAR-10. Decoding has a CPU budget of its
own, ``DECODE_CPU_S``, far above an honest picture's cost (``mobilenet.inference.read_image``
keeps that near 0.3 s) and far below the request's.
"""

import collections
import os

from classroom.work_pool import WorkPool, cpu_budget, report
from mobilenet import worker_start

DECODE_CPU_S = 3  # a picture that needs more CPU than this to decode is hostile or broken
QUICK_CPU_S, QUICK_WALL_S = 20, 60  # a request may load a checkpoint (seconds) before it answers
LONG_CPU_S, LONG_WALL_S = 900, 900  # an export of a large network converts three models
QUICK_MEMORY_MB, LONG_MEMORY_MB = 1536, 3072  # growth above a worker's size after start-up
WORKER_GB = 1.0  # resident size of a worker with TensorFlow and a few networks loaded
KEPT_NETWORKS = 3  # per worker


def pool_sizes(cores, memory_gb):
    """(quick, long) worker counts for ``cores`` and ``memory_gb`` of memory: a quick worker per
    core (at most 4) and one long one, fewer where memory is short (the server and a training run
    keep about 3 GB)."""
    fits = max(1, int((memory_gb - 3) / WORKER_GB) - 1)
    return max(1, min(cores, 4, fits)), 1


def machine_memory_gb():
    """The machine's memory in GB (a container's cgroup limit where it is lower)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit.isdigit():
            total = min(total, int(limit))
    except OSError:
        pass
    return total / 1e9


class Work:
    """The quick and long pools of the app (see the module doc).

    Args:
        data_source: CIFAR-10 for the long worker (as ``mobilenet.data.load_cifar10`` takes it).
        first_checkpoint: loaded by every new quick worker before its first request (None: none).
        quick, long: worker counts. Default ``pool_sizes`` of this machine.
    """

    def __init__(self, data_source=None, first_checkpoint=None, quick=None, long=None, cores=None,
                 in_process=False):
        from mobilenet.runtime import cpu_cores

        cores = cores or cpu_cores()
        if in_process:  # the old way, unbounded, in the server's own threads: for the benchmark only
            _init(data_source, cores)
            self.quick = self.long = InProcess()
            return
        # Where workers fork from a fork server (mobilenet.worker_start), it loads these for them.
        worker_start.preload("classroom.work", "mobilenet.inference", "mobilenet.explain")
        sizes = pool_sizes(cores, machine_memory_gb())
        warm = (warm_networks, ([first_checkpoint],)) if first_checkpoint else None
        threads = max(1, cores // 2)
        self.quick = WorkPool("quick", quick or sizes[0], _init, (None, threads), QUICK_CPU_S, QUICK_WALL_S,
                              QUICK_MEMORY_MB, warm=warm)
        self.long = WorkPool("long", long or sizes[1], _init, (data_source, cores), LONG_CPU_S, LONG_WALL_S,
                             LONG_MEMORY_MB, niceness=2)

    def warm(self, checkpoint):
        """Loads ``checkpoint`` in every quick worker (a run just saved it)."""
        self.quick.broadcast(warm_networks, [checkpoint])

    def close(self):
        self.quick.close()
        self.long.close()


class InProcess:
    """A pool's ``call`` run in the caller's thread: how the server did it before the workers, kept
    for ``scripts/classify_hop_bench.py`` to measure what the hop to a worker costs."""

    def call(self, task, *args, progress=None, **bounds):
        return task(*args)

    def broadcast(self, task, *args):
        task(*args)

    def close(self):
        pass


# -- in the workers ------------------------------------------------------------------------------

_networks = collections.OrderedDict()  # (path, mtime) -> Classifier
_state = {"data_source": None, "data": None, "mistakes": None}


def _init(data_source, threads):
    import mobilenet  # noqa: F401  oneDNN and TensorFlow's log level, before TensorFlow loads
    from mobilenet import runtime

    runtime.set_threads(threads)
    _state["data_source"] = data_source


def _classifier(path):
    from mobilenet.inference import Classifier

    key = (path, os.path.getmtime(path))
    if key not in _networks:
        _networks[key] = Classifier.from_checkpoint(path)
        while len(_networks) > KEPT_NETWORKS:
            _networks.popitem(last=False)
    _networks.move_to_end(key)
    return _networks[key]


def warm_networks(paths):
    """Loads each checkpoint of ``paths`` that can be loaded (a broken one is said when used)."""
    for path in paths:
        try:
            _classifier(path)
        except Exception:  # noqa: BLE001  the request that uses it gets the reason
            pass


def loaded_networks():
    """The checkpoints this worker holds loaded, oldest first."""
    return [path for path, _ in _networks]


def _picture(path, max_pixels):
    from mobilenet.inference import read_image

    with cpu_budget(DECODE_CPU_S, phase="decode"):
        picture = read_image(path, max_pixels=max_pixels)
    report({"phase": "network"})
    return picture


def classify(upload, checkpoint, max_pixels, k=5):
    """Classify's answer: ``Classifier.classify``'s dict and the picture's width and height."""
    picture = _picture(upload, max_pixels)
    result = _classifier(checkpoint).classify(picture, k=k)
    return {**result, "width": picture.shape[1], "height": picture.shape[0]}


def grad_cam(upload, checkpoint, max_pixels, class_index, side, max_side):
    """(overlay, facts) of Grad-CAM for the picture (enlarged to about ``side``, shown at most
    ``max_side`` wide) and ``class_index`` (None: the network's answer)."""
    from mobilenet.display import enlarge, shrink
    from mobilenet.explain import grad_cam as heat_map, grad_cam_facts, overlay
    from mobilenet.inference import to_rgb_uint8

    picture = enlarge(to_rgb_uint8(_picture(upload, max_pixels)), side)
    model = _classifier(checkpoint).model
    shown = shrink(picture, max_side)
    heatmap, layer, class_index, probabilities = heat_map(model, picture, class_index,
                                                          size=(shown.shape[1], shown.shape[0]))
    return overlay(shown, heatmap), grad_cam_facts(model, layer, class_index, probabilities)


def structure(checkpoint):
    """A network's map layers, depthwise blocks, map-size rows and the layer shown first."""
    from mobilenet.explain import depthwise_blocks, map_layers, map_table
    from mobilenet.model import last_spatial_layer

    model = _classifier(checkpoint).model
    return {"layers": map_layers(model), "blocks": depthwise_blocks(model), "table": map_table(model),
            "default": last_spatial_layer(model)}


def feature_maps(upload, checkpoint, max_pixels, layer):
    """(grid, info) of one map layer's activations (``layer`` must be one of ``structure``'s)."""
    from mobilenet.explain import feature_maps as maps

    picture = _picture(upload, max_pixels)
    return maps(_classifier(checkpoint).model, picture, layer)


def kernels(checkpoint, block):
    """(grid, info) of one block's 3×3 depthwise kernels (``block`` one of ``structure``'s)."""
    from mobilenet.explain import depthwise_kernels

    return depthwise_kernels(_classifier(checkpoint).model, block)


def _data():
    from mobilenet.data import load_cifar10

    if _state["data"] is None:
        _state["data"] = load_cifar10(_state["data_source"])
    return _state["data"]


def mistakes(checkpoint, top_pairs, per_direction):
    """``mobilenet.mistakes``' result for the checkpoint over the test set (cached on disk);
    reports ``{"done", "total"}`` as it goes, and once at the end."""
    from mobilenet.mistakes import MistakesCache

    classifier, data = _classifier(checkpoint), _data()
    if _state["mistakes"] is None:
        _state["mistakes"] = MistakesCache()
    result = _state["mistakes"].mistakes(classifier.model, classifier.metadata.get("weights_sha256"), data,
                                         top_pairs, per_direction,
                                         progress=lambda done, total: report({"done": done, "total": total}))
    report({"done": len(data.y_test), "total": len(data.y_test)})  # a remembered pass ends the same way
    return result


def export(checkpoint, folder, test_images, calibration_images):
    """``mobilenet.export.export_litert``'s report; reports its stage events as it goes."""
    from mobilenet.export import export_litert

    return export_litert(checkpoint, folder, data=_data(), test_images=test_images,
                         calibration_images=calibration_images, reuse=True, on_progress=report)

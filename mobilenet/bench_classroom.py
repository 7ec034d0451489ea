"""The bench's classroom section: the app's presets from scratch, as the CLI over seeds 0-4 and
through the running app, native and capped at AVX2 (``python -m mobilenet.bench --only
classroom``; ``mobilenet.bench`` writes the table)."""

import os
import sys
import time

from mobilenet import CHECKPOINT_DIR


# The CPUs a classroom meets: this one as it is, and capped at AVX2 (most laptops, many cloud
# CPUs have no AVX-512). oneDNN off, TensorFlow's old default on such CPUs, is no longer measured:
# mobilenet.runtime turns it on everywhere.
CPU_MODES = {"native": {}, "capped at AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2"}}
SMOKE_CONFIG = {"alpha": 0.25, "epochs": 1, "batch_size": 32, "train_size": 100, "validation_size": 50}
# The app's standby worker traces the first preset before it says ready, the others once the
# machine has been idle IDLE_QUIET_SECONDS: the bench starts those this much later (their trace
# takes ~6 s on 2 cores), as a student's Start minutes into a lesson finds them.
OTHER_PRESET_TRACE_S = 20
SEEDS = (0, 1, 2, 3, 4)  # one seed is one draw: the spread over five is what a class can expect


def classroom_rows(data_path, smoke, base_environ, seeds=SEEDS, presets=None):
    """The app's presets (the classroom run, the quick run), per CPU mode: as the CLI over
    ``seeds`` (accuracy as the app answers: mean ± half the range, and the min), and through the
    app (Start → accuracy on screen, the app's seed 0).

    CLI: ``python -m mobilenet train --recipe PRESET --seed N`` in a fresh process, timed from the
    command to its end (TensorFlow start-up and data loading included). App: ``python app.py``
    in a fresh process; once its standby worker is ready, Start through the API with the preset,
    timed until the snapshot shows the test accuracy, as a student sees it. ``base_environ``: the
    environment the runs start from (the entry point's), without its oneDNN settings.
    """
    import dataclasses
    import tempfile

    from mobilenet.recipes import APP_PRESETS, recipe

    seeds = seeds[:1] if smoke else seeds
    modes = dict(list(CPU_MODES.items())[:1]) if smoke else CPU_MODES
    rows = []
    for preset in APP_PRESETS[:1] if smoke else (presets or APP_PRESETS):
        config = recipe(preset, **(SMOKE_CONFIG if smoke else {}))
        for mode, cpu_environ in modes.items():
            env = {k: v for k, v in base_environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS")}
            env.update(cpu_environ)
            with tempfile.TemporaryDirectory() as folder:
                cli = [_cli_run(preset, dataclasses.replace(config, seed=seed), data_path, env, folder)
                       for seed in seeds]
                app = _app_run(preset, config, data_path, env, folder)
            rows.append((f"{preset} run, {mode}: CLI, seed{'s' if len(seeds) > 1 else ''} {_seeds(seeds)}", _spread(cli),
                         f"python -m mobilenet train --recipe {preset} --seed N, fresh process per seed: "
                         "wall time from the command to its end (start-up and data loading included)"))
            rows.append((f"{preset} run, {mode}: app, seed 0", _figure(app) + f"; app/CLI speed "
                         f"{app['images_per_sec'] / cli[0]['images_per_sec']:.2f}", "python app.py, Start "
                         "through the API once the worker is ready (and has traced the preset): wall time from Start to the test "
                         "accuracy in the snapshot"))
        rows.append((f"{preset} run settings", describe_config(config),
                     "accuracy on the 10,000 CIFAR-10 test images, as the app answers (with TTA "
                     "where the run's validation pictures measured it better, as every run here did "
                     "unless the row says otherwise)"))
    return rows


def describe_config(config):
    return (f"{config.variant} variant, {config.depth} depth, α {config.alpha:g}, {config.epochs} "
            f"epochs x {config.train_size or 'all'} images, batch {config.batch_size}, "
            f"{config.optimizer} lr {config.learning_rate:g} {config.schedule}, label smoothing "
            f"{config.label_smoothing:g}, TTA {TTA_WORDS[config.tta_views] if config.tta else 'off'}")


TTA_WORDS = {"mirror": "the mirror image", "mirror_shift": "the mirror image and two shifted copies (6 views)"}


def _seeds(seeds):
    return f"{seeds[0]}–{seeds[-1]}" if list(seeds) == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 1 \
        else ", ".join(map(str, seeds))


def _spread(results):
    """Mean ± half the range and the min of the accuracies, the slowest wall time, mean images/s."""
    accuracy = [r["test_accuracy"] * 100 for r in results]
    alone = [r["alone"] * 100 for r in results]
    flips = sum(r["flip"] for r in results)
    mean = sum(accuracy) / len(accuracy)
    if len(results) == 1:  # one draw: no spread to give
        (result,) = results
        return (f"{mean:.2f} % test accuracy ({'with' if result['flip'] else 'without'} TTA; "
                f"the picture alone: {alone[0]:.2f} %); wall {result['wall_s']:.1f} s; "
                f"{result['images_per_sec']:,.0f} images/s")
    return (f"{mean:.2f} % ± {(max(accuracy) - min(accuracy)) / 2:.2f}, min {min(accuracy):.2f} % "
            f"test accuracy ({flips} of {len(results)} with TTA; each picture alone: mean "
            f"{sum(alone) / len(alone):.2f} %, min {min(alone):.2f} %); wall ≤ "
            f"{max(r['wall_s'] for r in results):.1f} s; "
            f"{sum(r['images_per_sec'] for r in results) / len(results):,.0f} images/s")


def _figure(result):
    return (f"{result['test_accuracy'] * 100:.2f} % test accuracy"
            f"{' (TTA)' if result['flip'] else ''} in {result['wall_s']:.1f} s, "
            f"{result['images_per_sec']:,.0f} images/s")


def _cli_run(preset, config, data_path, env, folder):
    import json
    import subprocess

    from mobilenet.inference import answer_accuracy

    out = os.path.join(folder, f"cli-{config.seed}.keras")
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in
             {"epochs": config.epochs, "batch-size": config.batch_size, "seed": config.seed,
              "train-size": config.train_size or "all", "validation-size": config.validation_size}.items()]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mobilenet", "train", "--recipe", preset, "--data", data_path,
                           "--out", out, *flags], env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode:
        raise RuntimeError(f"python -m mobilenet train failed: {done.stderr[-2000:]}")
    wall = time.perf_counter() - started
    with open(out[:-len(".keras")] + ".json", encoding="utf-8") as f:
        metadata = json.load(f)
    accuracy, flip = answer_accuracy(metadata)
    return {"wall_s": wall, "test_accuracy": accuracy, "flip": flip,
            "alone": metadata["metrics"]["test_accuracy"],
            "images_per_sec": metadata["history"][-1]["images_per_sec"]}


def _app_run(preset, config, data_path, env, folder):
    import socket
    import subprocess

    from gradio_client import Client

    from mobilenet.inference import answer_accuracy
    from mobilenet.recipes import APP_PRESETS
    from mobilenet.worker import IDLE_QUIET_SECONDS

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**env, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "MOBILENET_CIFAR10": data_path, "MOBILENET_RUNS_DIR": os.path.join(folder, "runs"),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    app = subprocess.Popen([sys.executable, "app.py"], env=env, cwd=os.path.dirname(CHECKPOINT_DIR),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = _connect(Client, f"http://127.0.0.1:{port}/", app)
        deadline = time.monotonic() + 600
        while not client.submit(api_name="/watch_training").result()["worker_ready"]:
            if time.monotonic() > deadline:
                raise RuntimeError("the app's training worker did not get ready in 10 minutes")
            time.sleep(1)
        if preset != APP_PRESETS[0]:  # the standby prepares the other presets once the machine is
            time.sleep(IDLE_QUIET_SECONDS + OTHER_PRESET_TRACE_S)  # idle: a student's later Start finds them traced
        started = time.perf_counter()
        client.predict(name="bench", variant=config.variant, alpha=config.alpha, depth=config.depth,
                       train_images=config.train_size or 50_000, epochs=config.epochs,
                       batch_size=config.batch_size, learning_rate=config.learning_rate,
                       augmentation=config.augmentation, preset=preset, api_name="/start_training")
        while True:
            run = client.submit(api_name="/watch_training").result()["run"]
            if run["state"] not in ("starting", "running", "stopping"):
                break
            time.sleep(0.2)
        wall = time.perf_counter() - started
        if run["state"] != "finished":
            raise RuntimeError(f"the app's run ended {run['state']}: {run['error']}")
        epochs = [event for event in run["history"] if event["event"] == "epoch"]
        accuracy, flip = answer_accuracy({"metrics": run["metrics"]})
        return {"wall_s": wall, "test_accuracy": accuracy, "flip": flip,
                "images_per_sec": epochs[-1]["images_per_sec"]}
    finally:
        app.terminate()
        app.wait(30)


def _connect(client_class, url, process, timeout=300):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client_class(url, verbose=False)
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app at {url} did not start") from None
            time.sleep(1)

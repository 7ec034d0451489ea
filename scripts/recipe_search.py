"""Tries changes to the classroom run, several seeds each, and prints a table of what they did.

  python scripts/recipe_search.py --data PATH --seeds 0 1 2 3 4 \
      --trial base='{}' --trial smooth='{"label_smoothing": 0.1}' [--base classroom] [--log F]

Each trial is the base recipe (``mobilenet.recipes``) with the JSON overrides given; it runs in a
fresh process per trial (every seed of it in turn, the data loaded once), through
``mobilenet.train.train`` as the app runs it, without writing a checkpoint. Per trial the table
gives the test accuracy (plain and with flip TTA) as mean ± spread (half the range) and min over
the seeds, the images/s of the last epoch and the wall time of ``train()`` (data already loaded,
step not pre-traced: the app's standby worker traces it before Start, which saves 4-7 s). Each
run's figures go to ``--log`` as one JSON line, so a search stopped half way keeps what it
measured. Set ``ONEDNN_MAX_CPU_ISA=AVX2`` in the environment to measure a CPU without AVX-512.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_trial(base, overrides, seeds, data_path):
    """Runs in the child process: one JSON line per seed on stdout."""
    sys.path.insert(0, HERE)
    from mobilenet.data import load_cifar10
    from mobilenet.recipes import recipe
    from mobilenet.train import train

    data = load_cifar10(data_path)
    for seed in seeds:
        config = recipe(base, **{**overrides, "seed": seed})
        epochs = []
        started = time.perf_counter()
        result = train(config, data=data, on_progress=lambda e: e["event"] == "epoch" and epochs.append(e))
        wall = time.perf_counter() - started
        metrics = result.metrics
        print(json.dumps({"seed": seed, "test_accuracy": metrics["test_accuracy"],
                          "test_accuracy_tta": metrics.get("test_accuracy_tta"),
                          "validation_accuracy": metrics.get("validation_accuracy"),
                          "images_per_sec": epochs[-1]["images_per_sec"] if epochs else None,
                          "train_seconds": round(wall, 1)}), flush=True)


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    mean = sum(values) / len(values)
    return f"{mean * 100:.2f} ± {(max(values) - min(values)) * 50:.2f} (min {min(values) * 100:.2f})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="CIFAR-10 archive or folder")
    parser.add_argument("--base", default="classroom", help="the recipe the trials change")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--trial", action="append", required=True, metavar="NAME=JSON")
    parser.add_argument("--log", help="append each run's figures here (JSON lines)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_trial(args.base, json.loads(args.child), args.seeds, args.data)

    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "native")
    rows = []
    for trial in args.trial:
        name, _, overrides = trial.partition("=")
        json.loads(overrides or "{}")  # fail now, not after the previous trials
        child = subprocess.Popen([sys.executable, __file__, "--data", args.data, "--base", args.base,
                                  "--seeds", *map(str, args.seeds), "--trial", trial,
                                  "--child", overrides or "{}"], stdout=subprocess.PIPE, text=True)
        runs = []
        for line in child.stdout:
            if not line.startswith("{"):
                continue
            run = {"trial": name, "overrides": json.loads(overrides or "{}"), "base": args.base,
                   "isa": isa, **json.loads(line)}
            runs.append(run)
            print(json.dumps(run), flush=True)
            if args.log:
                with open(args.log, "a", encoding="utf-8") as log:
                    log.write(json.dumps(run) + "\n")
        if child.wait():
            print(f"trial {name} failed (exit {child.returncode})", file=sys.stderr)
        rows.append((name, overrides, runs))

    print(f"\n| trial | overrides | seeds | test % | test % with flip TTA | images/s | train() s |  (ISA: {isa})")
    print("|---|---|---|---|---|---|---|")
    for name, overrides, runs in rows:
        rates = [r["images_per_sec"] for r in runs if r["images_per_sec"]]
        print(f"| {name} | `{overrides}` | {len(runs)} | {summary([r['test_accuracy'] for r in runs])} | "
              f"{summary([r['test_accuracy_tta'] for r in runs])} | "
              f"{sum(rates) / max(1, len(rates)):,.0f} | "
              f"{max([r['train_seconds'] for r in runs], default=0):.1f} |")


if __name__ == "__main__":
    sys.exit(main())

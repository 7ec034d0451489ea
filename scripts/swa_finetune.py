"""Stochastic Weight Averaging (Izmailov et al., 2018) on top of a trained checkpoint.

Continues training at a constant learning rate for ``--epochs`` epochs and averages
the weights at the end of each epoch. The average lies nearer the centre of the broad
region SGD wanders in, which generalises better than any single point it visits. BN
statistics are then recomputed for the averaged weights over one pass of augmented
training batches (as during training: the statistics that the weights were trained
with), since no single step ever saw those weights.

  python scripts/swa_finetune.py --checkpoint base.keras --data cifar-10-python.tar.gz \
      --epochs 15 --learning-rate 0.02 --out checkpoints/mobilenet_cifar.keras

Resumable: after each epoch the model, the running average and the history go to
``--state-dir`` (default: beside --out, ``.swa-state-<name>``); the same command resumes,
and a larger ``--epochs`` extends a finished average.
The held-out validation split (the base run's) decides nothing here but is reported;
``--keep-better`` writes the result only when its validation accuracy beats the base's.
The test set is only measured, at the end.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--cutout", type=int, default=None, help="default: the base run's")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--state-dir")
    parser.add_argument("--keep-better", action="store_true")
    args = parser.parse_args()

    import keras

    from mobilenet import checkpoints
    from mobilenet.data import augment, load_cifar10, make_dataset
    from mobilenet.evaluate import evaluate, recalibrate_batchnorm, stored_weights_metrics, test_metrics
    from mobilenet.model import build_mobilenet
    from mobilenet.train import TrainConfig, compile_model, split_indices

    base_model, base = checkpoints.load_checkpoint(args.checkpoint)
    base_config = base["train_config"]
    cutout = base_config["cutout"] if args.cutout is None else args.cutout
    config = TrainConfig(**{**base_config, "learning_rate": args.learning_rate, "schedule": "constant",
                            "epochs": args.epochs, "batch_size": args.batch_size, "cutout": cutout,
                            "ema": False, "seed": args.seed, "warmup_epochs": 0})
    data = load_cifar10(args.data)
    train_idx, val_idx = split_indices(data.y_train, TrainConfig(**base_config))
    x_train, y_train = data.x_train[train_idx], data.y_train[train_idx]
    state_dir = args.state_dir or os.path.join(os.path.dirname(os.path.abspath(args.out)),
                                               ".swa-state-" + os.path.basename(args.out).split(".")[0])
    os.makedirs(state_dir, exist_ok=True)
    state_file = os.path.join(state_dir, "state.json")

    keras.utils.set_random_seed(args.seed)
    model = base_model
    steps = -(-len(train_idx) // args.batch_size)
    compile_model(model, config, steps)
    done, history, swa = 0, [], None
    if os.path.exists(state_file):
        with open(state_file) as f:
            record = json.load(f)
        if _settings(record["args"]) != _settings(vars(args)) or record["epoch"] > args.epochs:
            raise SystemExit(f"{state_dir} holds a run with other settings: {record['args']}")
        done, history = record["epoch"], record["history"]
        model.optimizer.build(model.trainable_variables)  # so that its momentum loads too
        model.load_weights(os.path.join(state_dir, "model.weights.h5"))
        with np.load(os.path.join(state_dir, "swa.npz")) as f:
            swa = [f[f"w{i}"] for i in range(len(f.files))]
        print(f"resumed after epoch {done}")
    train_ds = make_dataset(x_train, y_train, args.batch_size, training=True, augmentation=True,
                            seed=args.seed + done, cutout=cutout)
    val_ds = make_dataset(data.x_train[val_idx], data.y_train[val_idx], 500)
    started = time.monotonic()
    for epoch in range(done + 1, args.epochs + 1):
        t = time.monotonic()
        logs = model.fit(train_ds, epochs=1, validation_data=val_ds, verbose=0).history
        weights = [np.asarray(w) for w in model.weights]
        swa = weights if swa is None else [(s * (epoch - 1) + w) / epoch for s, w in zip(swa, weights)]
        history.append({"epoch": epoch, "loss": logs["loss"][0], "accuracy": logs["accuracy"][0],
                        "val_loss": logs["val_loss"][0], "val_accuracy": logs["val_accuracy"][0],
                        "learning_rate": args.learning_rate, "epoch_seconds": round(time.monotonic() - t, 1)})
        print(json.dumps(history[-1]), flush=True)
        checkpoints.atomic_write(os.path.join(state_dir, "model.weights.h5"), model.save_weights)
        checkpoints.atomic_write(os.path.join(state_dir, "swa.npz"), lambda tmp: np.savez(
            open(tmp, "wb"), **{f"w{i}": w for i, w in enumerate(swa)}))
        checkpoints.atomic_write(state_file, lambda tmp: open(tmp, "w").write(json.dumps(
            {"args": _settings(vars(args)), "epoch": epoch,
             "history": history})))

    averaged = build_mobilenet(**checkpoints.model_args(base["model"]))
    averaged.set_weights(swa)
    # BN statistics for the averaged weights, from augmented training batches (one pass)
    augmented = np.asarray(augment(x_train, seed=args.seed, cutout=cutout))
    bn_batches = recalibrate_batchnorm(
        averaged, augmented[np.random.default_rng(args.seed).permutation(len(augmented))],
        batch_size=256, max_batches=max(1, len(augmented) // 256))  # fewer than 256 images: one batch
    val = evaluate(averaged, data.x_train[val_idx], data.y_train[val_idx])["accuracy"]
    base_val = base["metrics"].get("validation_accuracy")
    print(f"validation: SWA {val:.4f}, base {base_val}")
    if args.keep_better and base_val is not None and val <= base_val:
        print("not better on validation: nothing written")
        return
    metrics = {"validation_accuracy": val, "validation_accuracy_before_swa": base_val,
               **test_metrics(averaged, data.x_test, data.y_test, tta=True),
               **stored_weights_metrics(checkpoints.float16_round_trip(averaged), data.x_test,
                                        data.y_test, tta=True),
               "test_accuracy_before_swa": base["metrics"].get("test_accuracy")}
    print(json.dumps({k: v for k, v in metrics.items() if k != "confusion_matrix"}, indent=1))
    swa_seconds = round(sum(h["epoch_seconds"] for h in history), 1)
    metadata = {**{k: v for k, v in base.items() if k not in (
                    "format", "weights_file", "weights_sha256", "weights_dtype", "model", "created",
                    "versions", "metrics")},
                "metrics": metrics,
                "swa": {"epochs": args.epochs, "learning_rate": args.learning_rate,
                        "batch_size": args.batch_size, "cutout": cutout, "seed": args.seed,
                        "history": history, "training_seconds": swa_seconds,
                        "base_checkpoint": os.path.basename(args.checkpoint),
                        "bn_statistics": f"recomputed over {bn_batches} augmented batches of up to 256",
                        "script": "scripts/swa_finetune.py"},
                "training_seconds": round(base.get("training_seconds", 0) + swa_seconds, 1)}
    path = checkpoints.save_checkpoint(averaged, args.out, base["model"], metadata,
                                       weights_dtype="float16", overwrite=True)
    print("saved", path, os.path.getsize(path), "bytes", f"({time.monotonic() - started:.0f}s)")


def _settings(args):
    """What must match to resume: not where things go, and not --epochs, which may grow
    (averaging over more epochs continues the same average)."""
    return {k: v for k, v in args.items() if k not in ("state_dir", "out", "epochs", "keep_better")}


if __name__ == "__main__":
    main()

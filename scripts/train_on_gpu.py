"""Trains a shipped checkpoint on a GPU with Keras 3's JAX backend (no TensorFlow there).

The same model (``mobilenet.model.build_mobilenet``), the same preprocessing
(``x / 255``) and the recipe of ``scripts/train_shipped.sh`` (SGD + Nesterov, cosine
with warmup, decoupled weight decay off the depthwise and BN weights, label smoothing,
crop + flip + cutout, EMA of the weights), but every step of an epoch runs on the
device: the images stay in GPU memory, crop/flip/cutout happen there, and one jitted
``lax.scan`` runs the whole epoch. Three steps:

  1. here (TensorFlow machine): pack the training images small enough to travel
       python scripts/train_on_gpu.py pack --data cifar-10-python.tar.gz --out .gpu/cifar_train.npz
  2. there (GPU, KERAS_BACKEND=jax): train, writing weights + history to --out
       python scripts/train_on_gpu.py train --data .gpu/cifar_train.npz --variant cifar \
           --deadline 470 --max-epochs 300 --out $OUT
  3. here: evaluate on the untouched test set and write the checkpoint + JSON
       python scripts/train_on_gpu.py finalize --run OUT_FOLDER --variant cifar \
           --data cifar-10-python.tar.gz --out checkpoints/mobilenet_cifar.keras

``pack`` re-encodes the 50,000 training images as JPEG quality 95, 4:4:4, in 10x10
mosaics (34 MB instead of 154 MB; PSNR ~47 dB against the offline copy, printed), because
what travels to the GPU machine is limited to 64 MiB. The test set never travels: it is
only read in ``finalize``, here, from the original archive.

``train`` fits its epoch count to a wall-clock budget: it compiles the epoch, times one
throw-away epoch, and picks ``epochs = (deadline - now) / epoch time`` (at most
``--max-epochs``); the cosine schedule then spans exactly those epochs. If the run falls
behind (another process shares the GPU), the schedule is shortened once, and the JSON says
so. Validation (2,000 held-out training images, the split ``mobilenet.train`` uses) is
measured every epoch; the test set is not used for any choice.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MOSAIC = 10  # images per mosaic side


# ----------------------------------------------------------------------------- pack
def pack(data_path, out, quality=95):
    import cv2

    from mobilenet.data import load_cifar10

    data = load_cifar10(data_path)
    x, y = data.x_train, data.y_train
    per = MOSAIC * MOSAIC
    if len(x) % per:
        raise SystemExit(f"{len(x)} images is not a multiple of {per}")
    blobs = []
    for start in range(0, len(x), per):
        mosaic = (x[start:start + per].reshape(MOSAIC, MOSAIC, 32, 32, 3)
                  .transpose(0, 2, 1, 3, 4).reshape(MOSAIC * 32, MOSAIC * 32, 3))
        ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(mosaic[:, :, ::-1]), [
            cv2.IMWRITE_JPEG_QUALITY, quality,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
        assert ok
        blobs.append(encoded.ravel())
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    decoded = unpack_images(np.concatenate(blobs), offsets)
    err = decoded.astype(np.float64) - x
    psnr = 10 * np.log10(255 ** 2 / np.mean(err ** 2))
    meta = {**data.describe(), "encoding": f"JPEG quality {quality}, 4:4:4, {MOSAIC}x{MOSAIC} mosaics",
            "psnr_db": round(float(psnr), 2), "mean_abs_error": round(float(np.abs(err).mean()), 3),
            "max_abs_error": int(np.abs(err).max())}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.savez(out, blob=np.concatenate(blobs), offsets=offsets, labels=y.astype(np.uint8),
             meta=json.dumps(meta))
    print(json.dumps({**meta, "bytes": os.path.getsize(out)}))


def unpack_images(blob, offsets):
    import cv2

    mosaics = []
    for a, b in zip(offsets[:-1], offsets[1:]):
        m = cv2.imdecode(blob[a:b], cv2.IMREAD_COLOR)[:, :, ::-1]
        mosaics.append(m.reshape(MOSAIC, 32, MOSAIC, 32, 3).transpose(0, 2, 1, 3, 4)
                       .reshape(MOSAIC * MOSAIC, 32, 32, 3))
    return np.ascontiguousarray(np.concatenate(mosaics))


def load_packed(path):
    with np.load(path) as f:
        return (unpack_images(f["blob"], f["offsets"]), f["labels"].astype(np.int64),
                json.loads(str(f["meta"])))


# ----------------------------------------------------------------------------- train
def train(args):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax
    import jax.numpy as jnp
    import keras

    from mobilenet.model import build_mobilenet
    from mobilenet.train import TrainConfig, split_indices

    t0 = time.monotonic()
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, f"{args.variant}.log"), "a", buffering=1)

    def say(*parts):
        line = f"[{time.monotonic() - t0:6.1f}s] " + " ".join(str(p) for p in parts)
        print(line, flush=True)
        log.write(line + "\n")

    say("jax", jax.__version__, "keras", keras.__version__, "devices", jax.devices())
    x_all, y_all, data_meta = load_packed(args.data)
    split_config = TrainConfig(validation_size=args.validation_size, train_size=None, seed=args.seed)
    train_idx, val_idx = split_indices(y_all, split_config)
    x_tr, y_tr = jax.device_put(x_all[train_idx]), jax.device_put(y_all[train_idx].astype(np.int32))
    x_val, y_val = x_all[val_idx], y_all[val_idx]
    n, batch = len(train_idx), args.batch_size
    steps = n // batch
    say(f"data: {n} train, {len(val_idx)} validation; {steps} steps of {batch}")

    keras.utils.set_random_seed(args.seed)
    model = build_mobilenet(classes=10, input_shape=(32, 32, 3), alpha=1.0, dropout=args.dropout,
                            variant=args.variant, depth="full", bn_momentum=args.bn_momentum)
    excluded = {id(v) for layer in model.layers
                if isinstance(layer, (keras.layers.DepthwiseConv2D, keras.layers.BatchNormalization))
                for v in layer.trainable_weights}
    decay_mask = [id(v) not in excluded for v in model.trainable_variables]
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    momentum, wd, ls, cutout = 0.9, args.weight_decay, args.label_smoothing, args.cutout

    def augment(key, xb):
        k1, k2, k3, k4, k5 = jax.random.split(key, 5)
        b = xb.shape[0]
        padded = jnp.pad(xb, ((0, 0), (4, 4), (4, 4), (0, 0)))
        oy = jax.random.randint(k1, (b,), 0, 9)
        ox = jax.random.randint(k2, (b,), 0, 9)
        out = jax.vmap(lambda im, y, x: jax.lax.dynamic_slice(im, (y, x, 0), (32, 32, 3)))(padded, oy, ox)
        flip = jax.random.bernoulli(k3, 0.5, (b, 1, 1, 1))
        out = jnp.where(flip, out[:, :, ::-1, :], out)
        if cutout:
            cy = jax.random.randint(k4, (b, 1, 1, 1), 0, 32)
            cx = jax.random.randint(k5, (b, 1, 1, 1), 0, 32)
            yy = jnp.arange(32)[None, :, None, None]
            xx = jnp.arange(32)[None, None, :, None]
            inside = (jnp.abs(yy - cy) * 2 < cutout) & (jnp.abs(xx - cx) * 2 < cutout)
            out = jnp.where(inside, jnp.uint8(128), out)
        return out

    def learning_rate(step, schedule):
        """Linear warmup from 0 to the peak, then cosine to 0 (keras CosineDecay's shape).
        ``schedule`` = (peak, total steps, warmup steps), traced: no recompile to change it."""
        peak, total_steps, warmup_steps = schedule[0], schedule[1], schedule[2]
        step = step.astype(jnp.float32)
        warm = peak * step / jnp.maximum(warmup_steps, 1)
        progress = jnp.clip((step - warmup_steps) / jnp.maximum(total_steps - warmup_steps, 1), 0, 1)
        cosine = peak * 0.5 * (1 + jnp.cos(jnp.pi * progress))
        return jnp.where(step < warmup_steps, warm, cosine)

    def loss_fn(tv, ntv, x, labels):
        probs, ntv = model.stateless_call(tv, ntv, x, training=True)
        target = jax.nn.one_hot(labels, 10) * (1 - ls) + ls / 10
        probs = probs / jnp.sum(probs, axis=-1, keepdims=True)
        loss = -jnp.mean(jnp.sum(target * jnp.log(jnp.clip(probs, 1e-7, 1 - 1e-7)), axis=-1))
        return loss, (probs, ntv)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def one_step(carry, inputs, x_train, y_train, schedule):
        tv, ntv, velocity, ema, step = carry
        idx, key = inputs
        xb = augment(key, x_train[idx]).astype(jnp.float32) / 255.0
        yb = y_train[idx]
        (loss, (probs, ntv)), grads = grad_fn(tv, ntv, xb, yb)
        lr = learning_rate(step, schedule)
        new_tv, new_v = [], []
        for w, g, v, decays in zip(tv, grads, velocity, decay_mask):
            if decays:  # Keras' decoupled weight decay: w -= lr * wd * w, before the update
                w = w - lr * wd * w
            v = momentum * v - lr * g
            new_tv.append(w + momentum * v - lr * g)  # Nesterov, as keras.optimizers.SGD
            new_v.append(v)
        ema = [args.ema_momentum * e + (1 - args.ema_momentum) * w for e, w in zip(ema, new_tv)]
        acc = jnp.mean((jnp.argmax(probs, axis=-1) == yb).astype(jnp.float32))
        return (new_tv, ntv, new_v, ema, step + 1), (loss, acc)

    @jax.jit
    def run_epoch(carry, x_train, y_train, order, keys, schedule):
        return jax.lax.scan(
            lambda c, i: one_step(c, i, x_train, y_train, schedule),
            carry, (order, keys))

    @jax.jit
    def predict(tv, ntv, x):
        probs, _ = model.stateless_call(tv, ntv, x.astype(jnp.float32) / 255.0, training=False)
        return probs

    def validate(tv, ntv):
        probs = np.concatenate([np.asarray(predict(tv, ntv, x_val[i:i + 1000]))
                                for i in range(0, len(x_val), 1000)])
        loss = -np.mean(np.log(np.clip(probs[np.arange(len(y_val)), y_val], 1e-7, 1)))
        return float(loss), float(np.mean(probs.argmax(1) == y_val))

    rng = np.random.default_rng(args.seed)
    key = jax.random.PRNGKey(args.seed)

    def epoch_inputs():
        nonlocal key
        key, sub = jax.random.split(key)
        order = rng.permutation(n)[:steps * batch].reshape(steps, batch).astype(np.int32)
        return jnp.asarray(order), jax.random.split(sub, steps)

    def fresh(tv, ntv):
        return (list(tv), list(ntv), [jnp.zeros_like(w) for w in tv], list(tv), jnp.int32(0))

    def schedule(peak, total, warmup):
        return jnp.array([peak, total, warmup], jnp.float32)

    say("compiling the epoch ...")
    order, keys = epoch_inputs()
    probe_schedule = schedule(args.learning_rate, steps * 100, steps)
    jax.block_until_ready(run_epoch(fresh(trainable, non_trainable), x_tr, y_tr, order, keys, probe_schedule))
    validate(trainable, non_trainable)  # compiles the evaluation too: not part of any epoch's time
    compiled_at = time.monotonic()
    say(f"compiled (+ one epoch) in {compiled_at - t0:.1f}s")
    if args.barrier:  # start timing together with the other run sharing the GPU
        open(os.path.join(args.barrier, f"{args.variant}.ready"), "w").close()
        while len([f for f in os.listdir(args.barrier) if f.endswith(".ready")]) < args.barrier_count \
                and time.monotonic() - compiled_at < 90:
            time.sleep(0.5)
    timings = []
    for _ in range(2):
        start = time.monotonic()
        order, keys = epoch_inputs()
        jax.block_until_ready(run_epoch(fresh(trainable, non_trainable), x_tr, y_tr, order, keys,
                                        probe_schedule))
        timings.append(time.monotonic() - start)
    epoch_s = max(timings)
    reserve = 25.0  # final validation, EMA swap, saves
    budget = args.deadline - (time.monotonic() - t0) - reserve
    epochs = int(min(args.max_epochs, max(1, budget // (epoch_s * 1.03))))
    say(f"epoch {epoch_s:.2f}s ({n / epoch_s:.0f} img/s) -> {epochs} epochs in {budget:.0f}s")

    peak, warmup_epochs, init_note = args.learning_rate, args.warmup_epochs, None
    if args.init_from and epochs < args.fresh_min_epochs:
        # Too few epochs to beat the run we already have: continue it with a second cosine
        # cycle (a warm restart, as SGDR) instead of starting from random weights.
        model.load_weights(args.init_from)
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        peak, warmup_epochs = args.restart_learning_rate, args.restart_warmup_epochs
        init_note = os.path.basename(args.init_from)
        say(f"warm restart from {args.init_from}: peak lr {peak}, {epochs} epochs")
    warmup_steps = int(warmup_epochs * steps)
    total_steps = epochs * steps
    carry = fresh(trainable, non_trainable)
    history, adjusted = [], None
    last_save = time.monotonic()
    train_started = time.monotonic()
    for epoch in range(1, epochs + 1):
        started = time.monotonic()
        order, keys = epoch_inputs()
        current = schedule(peak, total_steps, warmup_steps)
        carry, (losses, accs) = run_epoch(carry, x_tr, y_tr, order, keys, current)
        val_loss, val_acc = validate(carry[0], carry[1])
        seconds = time.monotonic() - started
        lr = float(learning_rate(jnp.int32(epoch * steps), current))
        elapsed = time.monotonic() - train_started
        history.append({"epoch": epoch, "epochs": epochs, "step": steps, "steps_per_epoch": steps,
                        "global_step": epoch * steps, "total_steps": total_steps,
                        "loss": float(np.mean(losses)), "accuracy": float(np.mean(accs)),
                        "images_per_sec": round(steps * batch / seconds, 1),
                        "eta_s": round(elapsed / epoch * (epochs - epoch), 1),
                        "learning_rate": lr, "epoch_seconds": round(seconds, 2),
                        "val_loss": val_loss, "val_accuracy": val_acc})
        say(f"epoch {epoch}/{epochs} loss {history[-1]['loss']:.4f} acc {history[-1]['accuracy']:.4f} "
            f"val {val_acc:.4f} lr {lr:.4f} {seconds:.2f}s")
        left = args.deadline - reserve - (time.monotonic() - t0)
        per_epoch = float(np.median([h["epoch_seconds"] for h in history[-5:]]))
        if adjusted is None and 3 <= epoch < epochs and left < (epochs - epoch) * per_epoch * 0.98:
            # behind schedule: end the cosine earlier so the run finishes at its low learning rate
            new_epochs = max(epoch + 1, epoch + int(left // (per_epoch * 1.05)))
            adjusted = {"at_epoch": epoch, "from_epochs": epochs, "to_epochs": new_epochs}
            say("behind schedule:", adjusted)
            epochs, total_steps = new_epochs, new_epochs * steps
        if time.monotonic() - last_save > 60 or epoch == epochs:
            _save(model, carry, history, args, data_meta, adjusted, init_note, epoch_s, peak, warmup_epochs,
                  final=epoch == epochs)
            last_save = time.monotonic()
        if epoch >= epochs:
            break
    say("done; raw val", history[-1]["val_accuracy"], "ema val", validate(carry[3], carry[1])[1])


def _save(model, carry, history, args, data_meta, adjusted, init_note, epoch_s, peak, warmup_epochs,
          final):
    import jax

    tv, ntv, _, ema, _ = carry
    for name, weights in (("raw", tv), ("ema", ema)):
        for variable, value in zip(model.trainable_variables, weights):
            variable.assign(value)
        for variable, value in zip(model.non_trainable_variables, ntv):
            variable.assign(value)
        tmp = os.path.join(args.out, f".{args.variant}_{name}.weights.h5")
        model.save_weights(tmp)
        os.replace(tmp, os.path.join(args.out, f"{args.variant}_{name}.weights.h5"))
    import keras

    record = {"variant": args.variant, "final": final, "history": history,
              "recipe": {**{k: v for k, v in vars(args).items() if k not in ("out", "data", "barrier")},
                         "peak_learning_rate": peak, "used_warmup_epochs": warmup_epochs},
              "schedule_adjusted": adjusted, "initialised_from": init_note,
              "probe_epoch_seconds": round(epoch_s, 3), "device": str(jax.devices()[0].device_kind),
              "versions": {"jax": jax.__version__, "keras": keras.__version__},
              "training_seconds": round(sum(h["epoch_seconds"] for h in history), 1),
              "data": data_meta}
    tmp = os.path.join(args.out, f".{args.variant}.json")
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, os.path.join(args.out, f"{args.variant}.json"))


# ----------------------------------------------------------------------------- finalize
def finalize(args):
    """Here, with TensorFlow: pick raw or EMA weights by validation accuracy, measure the
    test set (with and without flip TTA, float32 and float16-restored), save the checkpoint."""
    import dataclasses

    from mobilenet import checkpoints
    from mobilenet.data import load_cifar10
    from mobilenet.evaluate import evaluate, stored_weights_metrics, test_metrics
    from mobilenet.model import build_mobilenet
    from mobilenet.train import TrainConfig, split_indices

    with open(os.path.join(args.run, f"{args.variant}.json")) as f:
        run = json.load(f)
    recipe, history = run["recipe"], run["history"]
    data = load_cifar10(args.data)
    config = TrainConfig(
        variant=args.variant, alpha=1.0, depth="full", epochs=len(history),
        batch_size=recipe["batch_size"], learning_rate=recipe["learning_rate"], schedule="cosine",
        warmup_epochs=recipe["warmup_epochs"], optimizer="sgd", weight_decay=recipe["weight_decay"],
        train_size=None, validation_size=recipe["validation_size"], augmentation=True,
        cutout=recipe["cutout"], label_smoothing=recipe["label_smoothing"], dropout=recipe["dropout"],
        ema=True, ema_momentum=recipe["ema_momentum"], bn_momentum=recipe["bn_momentum"],
        bn_recalibration_batches=0, tta=True, seed=recipe["seed"], progress_every=50)
    train_idx, val_idx = split_indices(data.y_train, config)
    model_config = config.model_config()
    candidates = {}
    for name in ("raw", "ema"):
        model = build_mobilenet(**model_config, bn_momentum=recipe["bn_momentum"])
        model.load_weights(os.path.join(args.run, f"{args.variant}_{name}.weights.h5"))
        val = evaluate(model, data.x_train[val_idx], data.y_train[val_idx])["accuracy"]
        candidates[name] = (val, model)
        print(f"{name}: validation {val:.4f}")
    chosen = max(candidates, key=lambda k: candidates[k][0])  # validation decides, never test
    model = candidates[chosen][1]
    metrics = {"validation_accuracy": candidates[chosen][0],
               "validation_accuracy_raw": candidates["raw"][0],
               "validation_accuracy_ema": candidates["ema"][0], "weights": chosen,
               **test_metrics(model, data.x_test, data.y_test, tta=True),
               **stored_weights_metrics(checkpoints.float16_round_trip(model), data.x_test,
                                        data.y_test, tta=True)}
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("confusion_matrix",)}, indent=1))
    metadata = {
        "train_config": dataclasses.asdict(config), "bn_momentum": recipe["bn_momentum"],
        "metrics": metrics, "history": history, "stopped": False, "epochs_completed": len(history),
        "duration_s": run["training_seconds"], "training_seconds": run["training_seconds"],
        "trained_on": {"device": run["device"], "backend": "jax", "versions": run["versions"],
                       "script": "scripts/train_on_gpu.py", "schedule_adjusted": run["schedule_adjusted"],
                       "initialised_from": run["initialised_from"],
                       "training_images_encoding": run["data"]["encoding"],
                       "training_images_psnr_db": run["data"]["psnr_db"]},
        "dataset": {**data.describe(), "train_images_used": len(train_idx),
                    "validation_images": len(val_idx)}}
    path = checkpoints.save_checkpoint(model, args.out, model_config, metadata,
                                       weights_dtype="float16", overwrite=True)
    print("saved", path, os.path.getsize(path), "bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--quality", type=int, default=95)
    t = sub.add_parser("train")
    t.add_argument("--data", required=True)
    t.add_argument("--variant", choices=("cifar", "paper"), required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--deadline", type=float, required=True, help="seconds from start to be done by")
    t.add_argument("--max-epochs", type=int, default=300)
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--learning-rate", type=float, default=0.2)
    t.add_argument("--warmup-epochs", type=float, default=3)
    t.add_argument("--weight-decay", type=float, default=0.005)
    t.add_argument("--label-smoothing", type=float, default=0.1)
    t.add_argument("--cutout", type=int, default=16)
    t.add_argument("--dropout", type=float, default=1e-3)
    t.add_argument("--ema-momentum", type=float, default=0.999)
    t.add_argument("--bn-momentum", type=float, default=0.95)
    t.add_argument("--validation-size", type=int, default=2000)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--init-from", help="weights (.weights.h5) of an earlier run of this variant: "
                   "continued with a second cosine cycle when fewer than --fresh-min-epochs fit")
    t.add_argument("--fresh-min-epochs", type=int, default=200)
    t.add_argument("--restart-learning-rate", type=float, default=0.08)
    t.add_argument("--restart-warmup-epochs", type=float, default=1)
    t.add_argument("--barrier", help="folder where runs sharing the GPU meet before timing")
    t.add_argument("--barrier-count", type=int, default=2)
    f = sub.add_parser("finalize")
    f.add_argument("--run", required=True)
    f.add_argument("--variant", choices=("cifar", "paper"), required=True)
    f.add_argument("--data", required=True)
    f.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.data, args.out, args.quality)
    elif args.command == "train":
        train(args)
    else:
        finalize(args)


if __name__ == "__main__":
    main()

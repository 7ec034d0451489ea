#!/usr/bin/env bash
# Trains both shipped variants side by side on one GPU machine (JAX backend, no TensorFlow),
# within a wall-clock budget. Run from the repository root on that machine, with:
#   .whl/  keras, namex, optree wheels for its Python (it has jax, numpy, h5py, opencv)
#   .gpu/cifar_train.npz        scripts/train_on_gpu.py pack ...
#   .gpu/cifar_init.weights.h5  (optional) the CPU run's weights, for a warm restart
# Writes to $OUT: <variant>.json (history, recipe), <variant>_{raw,ema}.weights.h5, <variant>.log.
# Then, here: scripts/train_on_gpu.py finalize --run <that folder> --variant cifar|paper ...
set -u
out=${OUT:?set OUT to the output folder}
deadline=${DEADLINE:-470}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site KERAS_BACKEND=jax PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_MEM_FRACTION=0.4
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
rm -rf /tmp/barrier && mkdir -p /tmp/barrier
init=()
[ -f .gpu/cifar_init.weights.h5 ] && init=(--init-from .gpu/cifar_init.weights.h5)
python3 scripts/train_on_gpu.py train --data .gpu/cifar_train.npz --variant cifar --out "$out" \
  --deadline "$deadline" --max-epochs 300 --barrier /tmp/barrier "${init[@]}" > /tmp/cifar.out 2>&1 &
cifar=$!
python3 scripts/train_on_gpu.py train --data .gpu/cifar_train.npz --variant paper --out "$out" \
  --deadline "$deadline" --max-epochs 300 --barrier /tmp/barrier > /tmp/paper.out 2>&1 &
paper=$!
wait $paper; echo "paper exit $?"
wait $cifar; echo "cifar exit $?"
grep -v -i warn /tmp/paper.out | tail -8
grep -v -i warn /tmp/cifar.out | tail -12
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
ls -la "$out"

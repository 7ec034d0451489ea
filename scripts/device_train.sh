#!/usr/bin/env bash
# Trains a named recipe on the GPU machine (Keras + JAX there, no TensorFlow) with the package's
# own train(): the one training path, KERAS_BACKEND=jax. Run from the repository root there:
#   .whl/   keras, namex, optree wheels for its Python (it has jax, numpy, h5py)
#   DATA    CIFAR-10 as load_cifar10 reads it (the official archive, or the Hub's parquet layout);
#           scripts/device_data.sh brings the archive there in parts and prints its path
#   OUT     the output folder; RECIPE (default shipped-cifar), DEVICES (default: all GPUs)
# Resumable: run it again with the same OUT and it continues from OUT/state.
set -eu
out=${OUT:?set OUT to the output folder}
recipe=${RECIPE:-shipped-cifar}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax PYTHONUNBUFFERED=1
devices=${DEVICES:-$(python3 -c 'import jax; print(jax.device_count())')}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -m mobilenet train --recipe "$recipe" --data "${DATA:?set DATA to CIFAR-10}" \
  --devices "$devices" --state-dir "$out/state" --out "$out/$recipe.keras"

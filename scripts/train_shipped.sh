#!/usr/bin/env bash
# Trains a shipped checkpoint with its recipe (mobilenet/recipes.py), weight averaging included:
#   MOBILENET_CIFAR10=/path/to/cifar-10-python.tar.gz scripts/train_shipped.sh cifar|paper
# Hours on 2 CPU cores (days for paper); state after every epoch in $STATE_ROOT/<variant>, and
# the same command resumes. Meant for nohup: nohup nice scripts/train_shipped.sh cifar > train-cifar.log 2>&1 &
set -euo pipefail; cd "$(dirname "$0")/.."; v=${1:?usage: scripts/train_shipped.sh cifar|paper}
exec python -m mobilenet train --recipe "shipped-$v" --state-dir "${STATE_ROOT:-$HOME/.cache/mobilenet-lab/state}/$v" --out "checkpoints/mobilenet_$v.keras"

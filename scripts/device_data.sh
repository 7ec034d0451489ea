#!/usr/bin/env bash
# CIFAR-10 onto the GPU machine, which cannot download it and takes at most 64 MiB per call,
# the working tree included (about 25 MB): so the archive (163 MiB) goes in 32 MiB parts,
# one per call, kept there between calls outside the checkout.
#
# Here:         bash scripts/device_data.sh split ARCHIVE    -> .device-data/part-NN (32 MiB each)
#                                                               + .device-data/SHA256
# There, one call per part (carry .device-data/part-NN and .device-data/SHA256):
#               bash scripts/device_data.sh receive          -> copies the parts present into
#                                                               $DEVICE_DATA (default ~/.mobilenet-data)
# There, last:  bash scripts/device_data.sh assemble         -> prints the archive's path once all
#                                                               parts are there and its SHA-256 matches
# Then: DATA=$(bash scripts/device_data.sh assemble) OUT=$OUT bash scripts/device_train.sh
set -eu
here=.device-data
store=${DEVICE_DATA:-$HOME/.mobilenet-data}
part_bytes=${PART_BYTES:-33554432}
case "${1:-}" in
  split)
    archive=${2:?usage: device_data.sh split ARCHIVE}
    rm -rf "$here" && mkdir -p "$here"
    split -b "$part_bytes" -d -a 2 "$archive" "$here/part-"
    (cd "$(dirname "$archive")" && sha256sum "$(basename "$archive")") > "$here/SHA256"
    count=$(ls "$here"/part-* | wc -l)
    echo "$count parts in $here: carry one per call, each with $here/SHA256" >&2
    ;;
  receive)
    mkdir -p "$store"
    cp "$here"/SHA256 "$store/" 2>/dev/null || true
    found=0
    for part in "$here"/part-*; do
      [ -e "$part" ] || continue
      cp "$part" "$store/" && found=$((found + 1))
    done
    echo "received $found part(s); $store holds: $(cd "$store" && ls part-* 2>/dev/null | tr '\n' ' ')" >&2
    ;;
  assemble)
    [ -s "$store/SHA256" ] || { echo "no SHA256 in $store: receive it first" >&2; exit 2; }
    name=$(awk '{print $2}' "$store/SHA256")
    if [ ! -s "$store/$name" ] || ! (cd "$store" && sha256sum -c --status SHA256); then
      cat "$store"/part-* > "$store/$name.tmp" && mv "$store/$name.tmp" "$store/$name"
      (cd "$store" && sha256sum -c --status SHA256) || {
        echo "$store/$name does not match its SHA-256: a part is missing or damaged" >&2; exit 1; }
    fi
    echo "$store/$name"
    ;;
  *)
    echo "usage: device_data.sh split ARCHIVE | receive | assemble" >&2; exit 2 ;;
esac

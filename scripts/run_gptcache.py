"""Runs GPTCache's own HTTP server (gptcache_server.server, from the PyPI package) for Strata's
tests and benchmarks, with a cache that works offline.

GPTCache's `gptcache_server` entry point initialises its cache with an embedding model downloaded
from a model hub at start, which these machines cannot reach. This launcher sets up GPTCache's
global cache itself, then serves the package's unmodified FastAPI app (GET /, POST /put,
POST /get, POST /flush) with uvicorn.

  --mode exact     GPTCache's map data manager and exact-match evaluation: a hit needs the same
                   prompt text.
  --mode semantic  sqlite + faiss, distance evaluation, and the same ONNX sentence model as
                   Strata's semantic tier (all-MiniLM-L6-v2, fetched by scripts/models.sh), so the
                   two compare on equal terms. --cosine is the least cosine similarity of a hit;
                   GPTCache's threshold is set to its equivalent (see below).
"""

import argparse
import os

import numpy as np


class MiniLM:
    """all-MiniLM-L6-v2 sentence vectors: masked mean of the token vectors, L2-normalised
    (what sentence-transformers computes, and what Strata's onnx embedder computes)."""

    dimension = 384

    def __init__(self, model_dir: str, max_tokens: int = 256):
        import onnxruntime
        from tokenizers import BertWordPieceTokenizer

        self.tokenizer = BertWordPieceTokenizer(os.path.join(model_dir, "vocab.txt"), lowercase=True)
        self.tokenizer.enable_truncation(max_tokens)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            os.path.join(model_dir, "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def to_embeddings(self, text: str, **_kwargs) -> np.ndarray:
        encoding = self.tokenizer.encode(text)
        ids = np.array([encoding.ids], dtype=np.int64)
        mask = np.array([encoding.attention_mask], dtype=np.int64)
        (tokens,) = self.session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[..., None].astype(np.float32)
        vector = (tokens * weights).sum(axis=1)[0] / max(weights.sum(), 1.0)
        return (vector / max(np.linalg.norm(vector), 1e-12)).astype(np.float32)


def init_cache(mode: str, data_dir: str, model_dir: str, cosine: float) -> None:
    from gptcache import Config, cache
    from gptcache.manager import manager_factory
    from gptcache.processor.pre import get_prompt
    from gptcache.similarity_evaluation import ExactMatchEvaluation, SearchDistanceEvaluation

    os.makedirs(data_dir, exist_ok=True)
    if mode == "exact":
        cache.init(
            pre_embedding_func=get_prompt,
            data_manager=manager_factory("map", data_dir=data_dir),
            similarity_evaluation=ExactMatchEvaluation(),
        )
        return
    model = MiniLM(model_dir)
    # faiss's IndexFlatL2 returns squared L2 distances; for unit vectors d = 2 - 2 cos. GPTCache's
    # SearchDistanceEvaluation scores 4 - d = 2 + 2 cos on a 0..4 range, and a hit needs
    # score >= 4 * similarity_threshold, i.e. cos >= 2 * threshold - 1.
    cache.init(
        pre_embedding_func=get_prompt,
        embedding_func=model.to_embeddings,
        data_manager=manager_factory(
            "sqlite,faiss", data_dir=data_dir, vector_params={"dimension": model.dimension}
        ),
        similarity_evaluation=SearchDistanceEvaluation(),
        config=Config(similarity_threshold=(1.0 + cosine) / 2.0),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["exact", "semantic"], required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--model-dir", help="folder with model.onnx and vocab.txt (semantic mode)")
    parser.add_argument("--cosine", type=float, default=0.91, help="least cosine similarity of a hit")
    args = parser.parse_args()
    if args.mode == "semantic" and not args.model_dir:
        parser.error("--model-dir is required with --mode semantic")

    init_cache(args.mode, args.data_dir, args.model_dir, args.cosine)

    import uvicorn
    from gptcache_server import server

    # Stopped by SIGTERM from scripts/services.sh: do not wait on clients' idle keep-alive connections.
    uvicorn.run(server.app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=1)


if __name__ == "__main__":
    main()

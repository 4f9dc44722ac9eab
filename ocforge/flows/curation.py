"""Curation stages of one build: each config's filter stage, then exact, near (MinHash) and
semantic dedup, on the recipe's executor. Every stage writes its kept documents to
``.work/<config>/`` and its removed rows to ``removed/`` or ``quarantine/``; :class:`Curated` says
where a config's kept documents are."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocforge.errors import BuildError
from ocforge.filters import minhash
from ocforge.filters.exact_dedup import filter_step, finder_step, signature_step
from ocforge.filters.executors import make_executor, run_chain
from ocforge.filters.io import (
    GroupRecorder,
    IntermediateReader,
    intermediate_writer,
    iter_docs,
    link_duplicates,
    removed_writer,
)
from ocforge.filters.semantic import SemanticDedup
from ocforge.recipe import Recipe

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Curated:
    """A config's curated documents: the shards in ``folder``, less the near duplicates that
    MinHash stage 4 removes when ``clusters`` is set. That stage is then left to the config's
    last stage (:meth:`_Stages.final_steps`), which reads every document anyway."""

    folder: Path
    clusters: Path | None = None

    def docs(self) -> Iterator[dict[str, Any]]:
        """The kept documents, in the order of the shards."""
        if self.clusters is None:
            return iter_docs(self.folder)
        return minhash.iter_near_kept(self.folder, self.clusters)


class Stages:
    """The per-config stages of one build, all on the recipe's executor."""

    def __init__(self, recipe: Recipe, out_dir: Path, progress: Progress):
        self.recipe = recipe
        self.out = out_dir
        self.work = out_dir / ".work"
        self.progress = progress

    def _executor(
        self, config: str, stage: str, pipeline: list, tasks: int | None = None, depends=None
    ):
        return make_executor(
            self.recipe.executor,
            pipeline,
            str(self.out / "logs" / config / stage),
            tasks=tasks,
            depends=depends,
            job_name=f"{config}-{stage}",
        )

    def _run_chain(self, config: str, stages: list[tuple[str, list, int | None]]) -> None:
        """Run ``(stage, pipeline, tasks)`` in order (chained jobs on Slurm)."""
        self.progress(f"{config}: {', '.join(s for s, _, _ in stages)}")
        executors, previous = [], None
        for stage, pipeline, tasks in stages:
            previous = self._executor(config, stage, pipeline, tasks, depends=previous)
            executors.append(previous)
        try:
            run_chain(self.recipe.executor, executors)
        except BuildError:
            raise
        except Exception as exc:  # datatrove re-raises a task's error; name the stages
            names = ", ".join(s for s, _, _ in stages)
            raise BuildError(f"config {config!r}, stage(s) {names} failed: {exc}") from exc

    def run(self, config: str, stage: str, pipeline: list, tasks: int | None = None) -> None:
        self._run_chain(config, [(stage, pipeline, tasks)])

    def removed(
        self, config: str, step: str, outcome: str, reason: str = "", group_key: str | None = None
    ):
        base = "quarantine" if outcome == "quarantined" else "removed"
        return removed_writer(str(self.out / base / config), outcome, step, reason, group_key)

    def curate(
        self,
        config: str,
        steps: list,
        *,
        near: bool = False,
        semantic: bool = False,
        defer_near: bool = False,
    ) -> Curated:
        """Run ``steps`` (reader first), then exact, near and semantic dedup as the recipe asks;
        return where the kept documents are.

        Dedup signatures are written on the way by the stage that writes the documents they
        number (exact: the filter stage; MinHash: the stage before it), so no stage reads the
        documents back only to hash them; the stage filtering on them reads the same shards.
        ``defer_near``: MinHash stage 4 is not run here but left to the caller's last stage over
        the documents (:meth:`final_steps`), which spares writing and reading them once more;
        not with semantic dedup, which needs the near duplicates gone first."""
        dedup = self.recipe.filters.dedup
        minhash_cfg = self._minhash_config() if near and dedup.near.enabled else None
        current = self.work / config / "filtered"
        tee = (
            self._exact_signatures(config)
            if dedup.exact
            else self._minhash_tee(config, minhash_cfg)
        )
        self.run(config, "filter", [*steps, *tee, intermediate_writer(str(current))])
        current.mkdir(parents=True, exist_ok=True)
        if not any(current.glob("*.jsonl")):
            return Curated(current)  # every row was removed: nothing to deduplicate
        if dedup.exact:
            current = self._exact_dedup(config, current, self._minhash_tee(config, minhash_cfg))
        semantic = semantic and dedup.semantic.enabled
        sigs = self._minhash_signatures(config)
        if minhash_cfg is not None and defer_near and not semantic:
            return Curated(current, self._near_clusters(config, minhash_cfg, sigs))
        if minhash_cfg is not None:
            current = self._near_dedup(config, current, minhash_cfg, sigs)
        if semantic:
            current = self._semantic_dedup(config, current)
        return Curated(current)

    def _minhash_signatures(self, config: str) -> Path:
        return self.work / config / "minhash" / "signatures"

    def _minhash_tee(self, config: str, cfg: minhash.MinhashConfig | None) -> list:
        """The step writing MinHash signatures of the documents a stage writes (none without
        near dedup)."""
        if cfg is None:
            return []
        sigs = self._minhash_signatures(config)
        return [minhash.FastMinhashSignature(str(sigs), cfg, forward=True)]

    def _exact_signatures(self, config: str) -> list:
        return [signature_step(str(self.work / config / "sigs"), forward=True)]

    def _exact_dedup(self, config: str, source: Path, tee: list) -> Path:
        """datatrove's exact dedup stages 2 and 3 over ``source``; ``tee`` runs on the kept."""
        kept = self.work / config / "kept-exact"
        sigs, dups = self.work / config / "sigs", self.work / config / "dups"
        writer = self.removed(
            config, "exact-dedup", "duplicates", "exact_duplicate", group_key="dedup_key"
        )
        self._run_chain(
            config,
            [
                ("dedup-find", [finder_step(str(sigs), str(dups))], 1),
                (
                    "dedup-filter",
                    [
                        IntermediateReader(str(source), by_rank=True),
                        filter_step(str(dups), writer),
                        *tee,
                        intermediate_writer(str(kept)),
                    ],
                    None,
                ),
            ],
        )
        link_duplicates(kept, self.out / "removed" / config, "exact-dedup", "dedup_key")
        return kept

    def _semantic_dedup(self, config: str, source: Path) -> Path:
        settings = self.recipe.filters.dedup.semantic
        kept = self.work / config / "kept-semantic"
        writer = self.removed(
            config, "semantic-dedup", "duplicates", "semantic_duplicate", group_key="semantic_group"
        )
        step = SemanticDedup(settings.threshold, settings.model, exclusion_writer=writer)
        self.run(
            config,
            "semantic-dedup",
            [IntermediateReader(str(source)), step, intermediate_writer(str(kept))],
            tasks=1,
        )
        link_duplicates(kept, self.out / "removed" / config, "semantic-dedup", "semantic_group")
        return kept

    def final_steps(self, config: str, curated: Curated) -> list:
        """The reader of ``curated`` and the dedup step left to the config's last stage, which
        must run with the recipe's number of tasks; :meth:`link_final` after it."""
        if curated.clusters is None:
            return [IntermediateReader(str(curated.folder))]
        return [
            IntermediateReader(str(curated.folder), by_rank=True),
            *self._near_filter(config, curated.clusters),
            GroupRecorder(str(self._near_groups(config)), "minhash_cluster_id"),
        ]

    def link_final(self, config: str, curated: Curated) -> None:
        """Name the kept row of every near duplicate that the last stage removed."""
        if curated.clusters is not None:
            link_duplicates(
                self._near_groups(config),
                self.out / "removed" / config,
                "near-dedup",
                "minhash_cluster_id",
            )

    def _near_groups(self, config: str) -> Path:
        return self.work / config / "minhash" / "kept-groups"

    def _near_filter(self, config: str, clusters: Path) -> list:
        writer = self.removed(
            config, "near-dedup", "duplicates", "near_duplicate", group_key="minhash_cluster_id"
        )
        return [minhash.filter_step(str(clusters), writer)]

    def _near_stages(self, cfg: minhash.MinhashConfig, sigs: Path) -> tuple[list, Path]:
        """MinHash stages 2 and 3 over the signatures in ``sigs``; and their clusters folder."""
        buckets, clusters = sigs.parent / "buckets", sigs.parent / "clusters"
        stages = [
            (
                "minhash-buckets",
                [minhash.bucket_step(str(sigs), str(buckets), cfg)],
                minhash.bucket_tasks(cfg, self.recipe.executor.tasks),
            ),
            ("minhash-clusters", [minhash.cluster_step(str(buckets), str(clusters), cfg)], 1),
        ]
        return stages, clusters

    def _near_clusters(self, config: str, cfg: minhash.MinhashConfig, sigs: Path) -> Path:
        stages, clusters = self._near_stages(cfg, sigs)
        self._run_chain(config, stages)
        return clusters

    def _minhash_config(self) -> minhash.MinhashConfig:
        near = self.recipe.filters.dedup.near
        bands, rows = near.banding()
        return minhash.minhash_config(near.shingle_words, bands, rows, near.seed)

    def _near_dedup(
        self, config: str, source: Path, cfg: minhash.MinhashConfig, sigs: Path
    ) -> Path:
        """Stages 2-4 of MinHash dedup over ``source``, whose signatures are in ``sigs``."""
        kept = self.work / config / "kept-near"
        stages, clusters = self._near_stages(cfg, sigs)
        stages.append(
            (
                "minhash-filter",
                [
                    IntermediateReader(str(source), by_rank=True),
                    *self._near_filter(config, clusters),
                    intermediate_writer(str(kept)),
                ],
                None,
            )
        )
        self._run_chain(config, stages)
        link_duplicates(kept, self.out / "removed" / config, "near-dedup", "minhash_cluster_id")
        return kept

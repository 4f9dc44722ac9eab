"""Helpers shared by the command modules: quiet worker logs and progress bars."""

from __future__ import annotations

import os


def datatrove_logs(verbose: bool) -> None:
    # datatrove logs every task at INFO on stderr (it resets loguru's handlers per task), which
    # buries ocforge's own progress; its per-stage stats still land in OUT/logs/.
    from loguru import logger

    from ocforge.filters import executors

    executors.CONSOLE_LOGS = verbose
    if verbose:
        logger.enable("datatrove")
    else:
        logger.disable("datatrove")
        no_progress_bars()


def no_progress_bars() -> None:
    # datatrove's dedup stages and datasets draw tqdm bars of their own; tqdm reads TQDM_DISABLE
    # only when it is first imported, so switch the default off on the class itself.
    from functools import partialmethod

    import datasets
    from tqdm import tqdm

    datasets.disable_progress_bars()
    # worker processes import tqdm afresh: they read the environment
    os.environ.setdefault("TQDM_DISABLE", "1")
    tqdm.__init__ = partialmethod(tqdm.__init__, disable=True)  # type: ignore[method-assign]

"""Exception classes raised by ocforge's public functions."""

from __future__ import annotations

from pathlib import Path


class OcforgeError(Exception):
    """Base class of every error ocforge raises on purpose."""


class RecipeError(OcforgeError, ValueError):
    """A recipe file is unreadable, mistyped or points at inputs that do not exist.

    Each entry of ``problems`` is one human-readable line naming the recipe file, the YAML path of
    the offending key (and its line when known) and what was expected.
    """

    def __init__(self, recipe_path: str, problems: list[str]):
        self.recipe_path = recipe_path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid recipe {recipe_path}:\n{lines}")


class LedgerError(OcforgeError, RuntimeError):
    """The run lost or invented rows: ``input != kept + dropped + duplicates + quarantined``."""


class BuildError(OcforgeError, RuntimeError):
    """A build step failed; the message names the step and the cause."""


class SynthesisError(OcforgeError, RuntimeError):
    """Synthesis could not run or finish: the message names the stage and the cause."""


class InputError(OcforgeError, ValueError):
    """An input file does not hold its format (a JSONL file declared Parquet, a JSON array named
    ``.jsonl``, gzip data): the message names the file, the format and what the file starts with."""


class FieldError(OcforgeError, ValueError):
    """One row lacks a field or holds the wrong type there; ``reason`` is the ledger's reason code
    (``missing_field``, ``wrong_type``, ...) and ``detail`` names the column and field at fault.
    The row is quarantined, never the build stopped."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class ProfileParseError(OcforgeError, ValueError):
    """The text has no ``Name:`` line, so it cannot be read as a character profile."""


class ProfileProblem(OcforgeError, ValueError):
    """A generated profile cannot be used; the message is fed back in the repair turn."""


class EvalConfigError(OcforgeError, ValueError):
    """A build folder cannot give eval configs (no test split, no dialogue configs)."""


class RegisterError(OcforgeError, ValueError):
    """The release cannot back the tasks (no eval configs) or the prefix / folder is unusable."""


class ReleaseRefError(OcforgeError, ValueError):
    """A dataset reference is malformed, or its repo or revision does not exist on the target."""


class EvalRunError(OcforgeError, RuntimeError):
    """lm-eval failed, or its results cannot be recorded (no finite metric, unknown model repo)."""


# --- publishing: dataset releases and model publishing (ocforge.publish, ocforge.models) ---


class PublishError(OcforgeError, RuntimeError):
    """Pushing a release failed; no tag was created, and running the command again resumes."""


class ModelPublishError(PublishError):
    """The model cannot be published as asked (tag taken by other content, repo moved meanwhile)."""


class CardMetadataError(OcforgeError, ValueError):
    """A card's metadata would be refused by the Hub (ocforge.card_metadata's rules); nothing was
    pushed. The message names the card file, each field, its value and what was expected."""


class VersionError(OcforgeError, ValueError):
    """A version string is malformed, not newer than the latest release, or already tagged."""


class TagExistsError(VersionError):
    """The release tag already exists; tags are never moved or overwritten."""


class VerificationError(OcforgeError, RuntimeError):
    """``load_dataset`` at the new commit failed or returned other row counts than
    ``release.json``; the commit was not tagged."""


class ManifestError(OcforgeError, ValueError):
    """A ``release.json`` is not JSON or not a manifest.

    ``source`` names the file (a path, or the repo and revision it was read at); each entry of
    ``problems`` is one line naming the field path (``configs.generate.splits.train.rows``) and
    what was expected there.
    """

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid release.json {source}:\n{lines}")


class ReleaseNotFoundError(OcforgeError, LookupError):
    """The repo, or the release asked for, does not exist on the target."""


class HubAccessError(OcforgeError, ConnectionError):
    """The target Hub cannot be reached or no usable token was found (the token is never shown)."""


class SecretFoundError(OcforgeError, ValueError):
    """Token-like strings were found in data or cards about to be published.

    ``findings`` are the scan's findings (each names file, row id or line, and pattern; never the
    matched text, which may be a live credential)."""

    def __init__(self, findings: list):
        self.findings = findings
        shown = "\n  ".join(str(f) for f in findings[:20])
        more = f"\n  ... and {len(findings) - 20} more" if len(findings) > 20 else ""
        super().__init__(
            f"secret scan found {len(findings)} token-like string(s); nothing was published:\n  "
            f"{shown}{more}\nRemove them, or allow the pattern in the recipe "
            "(publish.allow_secret_patterns) if the data is meant to contain such strings."
        )


class TokenConfigError(OcforgeError, ValueError):
    """A token file or token variable of the local Hub is malformed (the message never quotes a
    token)."""


# --- models, training and judged evals (ocforge.models, ocforge.train, ocforge.evals.judge) ---


class CheckpointError(OcforgeError, ValueError):
    """The checkpoint is unusable or unsafe to publish; ``problems`` lists every finding."""

    def __init__(self, checkpoint: Path, problems: list[str]):
        self.checkpoint = checkpoint
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"checkpoint {checkpoint} cannot be published:\n{lines}")


class TrainError(OcforgeError, RuntimeError):
    """Training cannot start or continue as asked; the message says what to change."""


class DatasetRefError(TrainError, ValueError):
    """``--dataset`` is malformed, or its repo or revision is not on the target Hub."""


class TrainManifestError(TrainError, ValueError):
    """A checkpoint's training.json is unreadable or not a training manifest."""


class JudgeError(OcforgeError, RuntimeError):
    """A judged evaluation cannot run or finish: an endpoint refused or could not be reached, a
    prepared set is missing or malformed, or the results cannot be recorded."""


class JudgeConfigError(OcforgeError, ValueError):
    """A file under ``configs/judge/`` is malformed: the message names the file and the key."""

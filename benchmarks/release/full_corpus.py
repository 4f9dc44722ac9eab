"""Raw input files the size of the OpenCharacter release, with planted problems.

    python benchmarks/release/full_corpus.py OUT --characters 20000 --dialogues 460000

Writes into ``OUT`` what a user would hand to ``ocforge release``:

- ``characters.jsonl``: OpenCharacter-style rows (``character_id``, ``persona``, ``character``
  with the eight-field profile text) that pass the profile filters;
- ``dialogues-rewrite-NN.jsonl`` / ``dialogues-generate-NN.jsonl``: the two strategies (about
  240k : 220k), each sharded over ``--files`` files so that every build task reads whole files.
  Questions come from a pool shared by both strategies (many characters answer the same
  question); rewrite rows carry the pool question's ``original_response`` and keep a quarter
  of its words as whole sentences (lightly edited) among new ones, as a rewrite does;
- ``recipe.yaml``: characters + both dialogue configs, quality/language/Gopher filters, exact +
  near dedup (default 14 x 8 banding), decontamination against the own test split, 2 x 2 local
  executor;
- ``planted.json``: the planted problems per config and the ledger they should produce.

Answers are English-like prose on the curation benchmark's ``_Writer`` vocabulary
(benchmarks/curate) with English function and common words mixed in so that language id and
Gopher keep them all, drawn a whole answer at a time for speed; independent answers share no
long spans, so the only duplicates are the planted ones. Planted, per dialogue config: exact
copies (3%, a third with whitespace changes), near copies (6%: the same character and question,
0.4-2% of the words edited; their 5-gram Jaccard is measured and the expected MinHash
detections are recorded),
junk (2%: AI disclaimers, one-word, empty and repetitive answers), answers in other languages,
answers introducing themselves with another character's name, malformed JSON lines, rows
missing a field, rows naming an unknown character or a character that the build removes.
Characters: 0.5% exact duplicate profiles under new ids (their dialogues are re-pointed to the
kept twin), and a few malformed, incomplete, placeholder, bad-age and unparseable profiles.

The expected ``test_overlap`` count (train dialogues whose question is also asked of a
held-out character) is computed with the product's own split function over the dialogues that
survive the planted-problem removal. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "curate"))

from corpus import FUNCTION, _Writer, jaccard  # noqa: E402  (the curation benchmark's writer)

from ocforge.layout import split_of  # noqa: E402
from ocforge.records import character_id  # noqa: E402

RECIPE_NAME = "opencharacter-full"
TEST_FRACTION, SPLIT_SEED = 0.1, 0
BANDS, ROWS = 14, 8  # the recipe leaves the near-dedup banding at its default

# per dialogue config, share of rows; small kinds get at least one row so that a small corpus
# plants every kind
DIALOGUE_PLANTS = {
    "exact_copy": 0.03,
    "near_copy": 0.06,
    "character_break": 0.008,
    "too_short": 0.005,
    "empty": 0.002,
    "repetitive": 0.005,
    "wrong_language": 0.001,
    "wrong_name": 0.001,
    "malformed_json": 0.0002,
    "missing_field": 0.0003,
    "unknown_character": 0.001,
    "removed_character": 0.001,
}
# planted kind -> (ledger outcome, reason); ``repetitive`` ends under one of datatrove's
# repetition reasons (which one depends on the text), so it is matched by prefix
DIALOGUE_OUTCOME = {
    "exact_copy": ("duplicates", "exact_duplicate"),
    "near_copy": ("duplicates", "near_duplicate"),
    "character_break": ("dropped", "character_break"),
    "too_short": ("dropped", "too_short"),
    "empty": ("dropped", "empty_response"),
    "repetitive": ("dropped", "repetition:*"),
    "wrong_language": ("dropped", "wrong_language"),
    "wrong_name": ("dropped", "wrong_name"),
    "malformed_json": ("quarantined", "malformed_json"),
    "missing_field": ("quarantined", "missing_field"),
    "unknown_character": ("quarantined", "unknown_character"),
    "removed_character": ("dropped", "character_removed"),
}
REPETITION_REASONS = ("dup_", "duplicated_", "top_")
CHARACTER_PLANTS = {  # kind -> (outcome, reason); duplicates are 0.5%, the rest 0.05% each
    "duplicate_profile": ("duplicates", "exact_duplicate"),
    "malformed_json": ("quarantined", "malformed_json"),
    "missing_field": ("quarantined", "missing_field"),
    "unparseable_profile": ("quarantined", "unparseable_profile"),
    "incomplete_profile": ("dropped", "incomplete_profile"),
    "placeholder_profile": ("dropped", "placeholder_profile"),
    "invalid_age": ("dropped", "invalid_age"),
}

ENGLISH = (
    "people life work home family friend child water house money school night world story "
    "question answer problem reason morning city road music food book letter garden window "
    "market doctor teacher river mountain village coffee kitchen street summer winter voice "
    "heart hand eye face mind idea plan job game team church office paper country history "
    "business think know want need feel learn remember believe understand try keep start help "
    "show hear play move live bring happen write sit stand lose pay meet include continue "
    "change lead good new first last long great little own old right big high different small "
    "large next early young important few public bad same able best better sure free true "
    "whole clear always never often really still together maybe usually quickly certainly"
).split()
OPENERS = [
    "How would you",
    "What do you think about",
    "Can you explain",
    "Why do so many people",
    "What is the best way to",
    "How should I",
    "Could you describe",
    "What would you say about",
    "Is it a good idea to",
    "What advice do you have on",
    "Tell me how to",
    "What should I know before",
]
CORPORA = ["lima", "alpaca", "dolly", "oasst"]
GENDERS = ["Female", "Male", "Non-binary"]
RACES = [
    "White (Irish)",
    "Black (Kenyan)",
    "East Asian (Korean)",
    "South Asian (Indian)",
    "Hispanic (Mexican)",
    "Middle Eastern (Lebanese)",
    "Mixed (Brazilian-Japanese)",
    "Pacific Islander (Samoan)",
]
COUNTRIES = ["Ireland", "Kenya", "Korea", "India", "Mexico", "Lebanon", "Brazil", "Samoa"]
DISCLAIMERS = [
    "As an AI language model, I don't have personal experiences, but here is what I know.",
    "I'm sorry, but I cannot role-play as this character.",
    "As a large language model, I cannot pretend to be someone else.",
    "I am an AI and I do not have personal opinions on this.",
]
ONE_WORD = ["Okay.", "Yes.", "Sure!", "Indeed.", "No.", "Perhaps", "Fine, thanks."]
REPEATED = [  # real English, so that only the repetition filter objects
    "I really do not know what to tell you about that.",
    "That is a very good question and I will think about it.",
    "You have to try your best and never give up on the dream.",
    "Well, it depends on the situation and the people involved.",
]
FOREIGN = [
    "La verdad es que nunca me ha gustado hablar en público. Siempre preparo mis notas con "
    "mucho cuidado, pero cuando llega el momento me tiemblan las manos y olvido la mitad de lo "
    "que quería decir. Con los años he aprendido a respirar despacio y a mirar a una sola persona.",
    "Pour bien apprendre à cuisiner, il faut commencer par des plats très simples. Je prépare "
    "souvent une soupe de légumes le dimanche, et je garde toujours des oignons, de l'ail et du "
    "riz dans mon placard. Le plus important, c'est de goûter pendant la cuisson.",
    "Ehrlich gesagt gehe ich jeden Morgen vor der Arbeit eine Stunde spazieren. Das hilft mir, "
    "den Kopf frei zu bekommen und den Tag zu planen. Wenn es regnet, nehme ich einfach einen "
    "Schirm mit, denn das schlechte Wetter ist keine Ausrede für mich.",
    "Secondo me la cosa più importante è avere pazienza. Quando ho cominciato a lavorare nel "
    "negozio di mio padre non sapevo niente, ma ogni giorno imparavo qualcosa di nuovo dai "
    "clienti e dai fornitori che passavano a trovarci.",
]


class _FastWriter(_Writer):
    """``_Writer``'s vocabulary of invented content words, with English function words (Zipf
    weights in their frequency order: with uniform weights "the", "of", "and", "to" are rare
    enough that one answer in ten misses Gopher's two distinct stop words) and 15% common
    English content words (without them py3langid calls about 0.3% of the answers Nigerian
    Pidgin). The words of a whole answer are drawn in one numpy call: ~10x faster per answer."""

    def __init__(self, seed: int):
        super().__init__(seed)
        self.np = np.random.default_rng(seed)
        self.lexicon = np.array(FUNCTION + ENGLISH + self.vocab, dtype=object)
        function = 1.0 / np.arange(1, len(FUNCTION) + 1)
        english = np.full(len(ENGLISH), 1.0 / len(ENGLISH))
        invented = np.diff(np.array([0.0, *self.cum_weights]))
        probs = np.concatenate(
            [
                0.45 * function / function.sum(),
                0.15 * english,
                0.40 * invented / invented.sum(),
            ]
        )
        self.cum = np.cumsum(probs)
        self.cum[-1] = 1.0

    def words(self, n: int) -> list[str]:
        return self.lexicon[np.searchsorted(self.cum, self.np.random(n), side="right")].tolist()

    def sentences(self, lo: int, hi: int) -> list[str]:
        rng = self.rng
        target, lengths = rng.randint(lo, hi), []
        while sum(lengths) < target:
            lengths.append(rng.randint(6, 18))
        words, out, at = self.words(sum(lengths)), [], 0
        for k in lengths:
            chunk = words[at : at + k]
            at += k
            if rng.random() < 0.3:
                chunk[rng.randrange(1, k - 1)] += ","
            out.append(" ".join(chunk).capitalize() + rng.choice(".!?.."))
        return out

    def answer(self, lo: int = 80, hi: int = 270) -> str:
        return " ".join(self.sentences(lo, hi))

    def rewrite(self, original: list[str]) -> str:
        """Keep a quarter of ``original``'s words as whole sentences (lightly edited, in order)
        among new ones, to about the original's length: enough content kept for the
        rewrite-sanity filter, little enough that rewrites of one question are not
        near-duplicates of each other."""
        rng = self.rng
        sizes = [len(s.split()) for s in original]
        # whole sentences, drawn until they hold a quarter of the words: a fixed number of
        # sentences can be two short ones and keep under 10% of the content words
        order, chosen, words = rng.sample(range(len(original)), len(original)), [], 0
        for i in order:
            if words >= sum(sizes) * 0.25 and len(chosen) >= 2:
                break
            chosen.append(i)
            words += sizes[i]
        k = len(chosen)
        kept = [self.edit(original[i], 0.1) for i in sorted(chosen)]
        length = sum(sizes) * rng.uniform(0.8, 1.2)
        new = self.sentences(max(6, int(length * 0.75)), max(6, int(length * 0.75)))
        slots = set(rng.sample(range(len(new) + k), k))
        it_new, it_kept = iter(new), iter(kept)
        return " ".join(next(it_kept if i in slots else it_new) for i in range(len(new) + k))


def _detect_probability(j: float, bands: int = BANDS, rows: int = ROWS) -> float:
    """Chance that MinHash LSH with ``bands`` x ``rows`` puts a pair of Jaccard ``j`` together."""
    return 1.0 - (1.0 - j**rows) ** bands


def _profile(w: _FastWriter, name: str, *, age: str | None = None) -> dict[str, str]:
    rng = w.rng
    return {
        "Name": name,
        "Age": age or str(rng.randint(18, 90)),
        "Gender": rng.choice(GENDERS),
        "Race": rng.choice(RACES),
        "Birth Place": f"{w.vocab[rng.randrange(len(w.vocab))].title()}, {rng.choice(COUNTRIES)}",
        "Appearance": w.answer(20, 40),
        "General Experience": w.answer(50, 90),
        "Personality": w.answer(20, 40),
    }


def _profile_text(fields: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in fields.items())


def _counts(n: int, shares: dict[str, float], always: set[str]) -> dict[str, int]:
    return {k: max(1 if k in always else 0, round(n * s)) for k, s in shares.items()}


def _characters(w: _FastWriter, n: int, out: Path) -> tuple[dict, dict]:
    """Write ``characters.jsonl``; return (planted info, lookup tables for the dialogues)."""
    rng = w.rng
    small = max(1, round(n * 0.0005))
    planted = {k: small for k in CHARACTER_PLANTS}
    planted["duplicate_profile"] = max(1, round(n * 0.005))
    n_unique = n - sum(planted.values())
    if n_unique < planted["duplicate_profile"] + 2:
        raise ValueError(f"--characters {n} is too small for the planted problems")

    names: set[str] = set()
    rows: list[dict] = []  # in file order, before ids are given
    for _ in range(n_unique):
        while True:
            first, last = (w.vocab[rng.randrange(len(w.vocab))].title() for _ in range(2))
            if first != last and f"{first} {last}" not in names:
                break
        names.add(f"{first} {last}")
        rows.append({"kind": "valid", "fields": _profile(w, f"{first} {last}")})
    rng.shuffle(rows)
    # invalid rows anywhere, duplicates somewhere after their original
    for kind in ("malformed_json", "missing_field", "unparseable_profile", "incomplete_profile"):
        for _ in range(planted[kind]):
            rows.insert(rng.randrange(len(rows) + 1), {"kind": kind, "fields": _profile(w, "X")})
    for _ in range(planted["placeholder_profile"]):
        fields = _profile(w, f"Anon {len(rows)}")
        fields["Birth Place"] = "[City], [Country]"
        rows.insert(rng.randrange(len(rows) + 1), {"kind": "placeholder_profile", "fields": fields})
    for _ in range(planted["invalid_age"]):
        fields = _profile(w, f"Old {len(rows)}", age=str(rng.randint(20_000, 90_000)))
        rows.insert(rng.randrange(len(rows) + 1), {"kind": "invalid_age", "fields": fields})
    valid_positions = [i for i, r in enumerate(rows) if r["kind"] == "valid"]
    originals = rng.sample(valid_positions, planted["duplicate_profile"])
    for pos in sorted(originals, reverse=True):
        dup = {"kind": "duplicate_profile", "fields": rows[pos]["fields"]}
        rows.insert(rng.randrange(pos + 1, len(rows) + 1), dup)

    valid_ids, removed_ids, cid_of, name_of = [], [], {}, {}
    twin: dict[str, tuple[int, int]] = {}  # source id -> (pair, 0: first row / 1: later row)
    first_of: dict[str, str] = {}  # profile text -> source id of its first row
    with (out / "characters.jsonl").open("w") as fh:
        for i, row in enumerate(rows):
            sid, kind, fields = f"oc-{i + 1:06d}", row["kind"], row["fields"]
            text = _profile_text(fields)
            record = {"character_id": sid, "persona": w.answer(12, 24), "character": text}
            if kind == "missing_field":
                del record["character"]
            elif kind == "unparseable_profile":
                record["character"] = text.split("\n", 1)[1]  # no Name: line
            elif kind == "incomplete_profile":
                record["character"] = text.rsplit("\nPersonality:", 1)[0]
            line = json.dumps(record, ensure_ascii=False)
            if kind == "malformed_json":
                line = line[: len(line) // 2]
            fh.write(line + "\n")
            if kind in ("valid", "duplicate_profile"):
                valid_ids.append(sid)
                cid_of[sid] = character_id(text.strip())
                name_of[sid] = fields["Name"]
                if kind == "duplicate_profile":
                    original = first_of[text]
                    pair = len(twin) // 2
                    twin[original], twin[sid] = (pair, 0), (pair, 1)
                first_of.setdefault(text, sid)
            elif kind != "malformed_json":  # unreadable rows name no character: unknown instead
                removed_ids.append(sid)
    expected: dict[str, dict[str, int]] = {"dropped": {}, "duplicates": {}, "quarantined": {}}
    for kind, (outcome, reason) in CHARACTER_PLANTS.items():
        expected[outcome][reason] = expected[outcome].get(reason, 0) + planted[kind]
    info = {
        "input": len(rows),
        "planted": planted,
        "expected": {"kept": n_unique, **expected},
    }
    split = {sid: split_of(cid, TEST_FRACTION, SPLIT_SEED) for sid, cid in cid_of.items()}
    tables = {
        "valid_ids": valid_ids,
        "twin": twin,
        "removed_ids": removed_ids,
        "split": split,
        "name_of": name_of,
    }
    return info, tables


def _questions(w: _FastWriter, n: int) -> list[dict]:
    seen: set[str] = set()
    pool = []
    while len(pool) < n:
        text = f"{w.rng.choice(OPENERS)} {' '.join(w.words(w.rng.randint(6, 14)))}?"
        if text in seen:
            continue
        seen.add(text)
        i = len(pool)
        corpus = CORPORA[i % len(CORPORA)]
        pool.append({"question_id": f"{corpus}-{i:06d}", "source_corpus": corpus, "question": text})
    return pool


def _plan(rng: random.Random, n: int) -> tuple[list[str], dict[int, int], dict[str, int]]:
    """Kind of every row, the base ordinal each copy copies, and the counts per kind."""
    always = {k for k in DIALOGUE_PLANTS if k not in ("exact_copy", "near_copy")}
    counts = _counts(n, DIALOGUE_PLANTS, always)
    n_base = n - sum(counts.values())
    if n_base < 20:
        raise ValueError(f"{n} dialogues per strategy is too small for the planted problems")
    rest = ["base"] * (n_base - 20) + [k for k, c in counts.items() for _ in range(c)]
    rng.shuffle(rest)
    kinds = ["base"] * 20 + rest  # copies need an earlier base row
    sources: dict[int, int] = {}
    seen_base = 0
    for pos, kind in enumerate(kinds):
        if kind == "base":
            seen_base += 1
        elif kind in ("exact_copy", "near_copy"):
            sources[pos] = rng.randrange(seen_base)
    return kinds, sources, counts


def _dialogues(
    w: _FastWriter,
    strategy: str,
    n: int,
    files: int,
    out: Path,
    pool: list[dict],
    originals: list[list[str]] | None,
    tables: dict,
) -> tuple[dict, list[str], dict]:
    """Write one strategy's shards; return (planted info, file names, survivor bookkeeping)."""
    rng = w.rng
    kinds, sources, counts = _plan(random.Random(rng.random()), n)
    needed = set(sources.values())
    valid, removed = tables["valid_ids"], tables["removed_ids"]
    split, twin, name_of = tables["split"], tables["twin"], tables["name_of"]
    names = [f"dialogues-{strategy}-{i:02d}.jsonl" for i in range(files)]
    handles = [(out / name).open("w") for name in names]
    kept_sources: dict[int, dict] = {}
    near_j: list[float] = []
    near_rows: list[tuple[str, int, float]] = []  # (split, question index, jaccard)
    # base rows: (split, question, (pair, side) when the character has a duplicate twin)
    survivors: list[tuple[str, int, tuple[int, int] | None]] = []
    base_ordinal = 0

    def record(q: int, sid: str, response: str) -> dict:
        row = {"character_id": sid, **pool[q]}
        if originals is not None:
            row["original_response"] = " ".join(originals[q])
        row["response"] = response
        return row

    def fresh(q: int) -> str:
        return w.rewrite(originals[q]) if originals is not None else w.answer()

    try:
        for pos, kind in enumerate(kinds):
            q, sid = rng.randrange(len(pool)), valid[rng.randrange(len(valid))]
            if kind == "base":
                row = record(q, sid, fresh(q))
                survivors.append((split[sid], q, twin.get(sid)))
                if base_ordinal in needed:
                    kept_sources[base_ordinal] = row
                base_ordinal += 1
            elif kind == "exact_copy":
                row = dict(kept_sources[sources[pos]])
                if rng.random() < 1 / 3:  # the same up to whitespace
                    row["response"] = "  " + row["response"].replace(". ", ".  ", 2) + "\n"
            elif kind == "near_copy":
                src = kept_sources[sources[pos]]
                edited = src["response"]
                while edited == src["response"]:  # a word replaced by itself is no edit
                    edited = w.edit(src["response"], rng.uniform(0.004, 0.02))
                row = dict(src, response=edited)
                j = jaccard(row["response"], src["response"])
                near_j.append(j)
                qi = int(src["question_id"].rsplit("-", 1)[1])
                near_rows.append((split[src["character_id"]], qi, j))
            elif kind == "character_break":
                text = w.answer(20, 60)
                d = rng.choice(DISCLAIMERS)
                row = record(q, sid, f"{d} {text}" if rng.random() < 0.5 else f"{text} {d}")
            elif kind == "too_short":
                row = record(q, sid, rng.choice(ONE_WORD))
            elif kind == "empty":
                row = record(q, sid, rng.choice(["", "   ", "\n"]))
            elif kind == "repetitive":
                row = record(q, sid, " ".join([rng.choice(REPEATED)] * rng.randint(8, 15)))
            elif kind == "wrong_language":
                sentences = rng.choice(FOREIGN).split(". ")
                rng.shuffle(sentences)
                row = record(q, sid, ". ".join(s.rstrip(".") for s in sentences) + ".")
            elif kind == "wrong_name":
                own = set(name_of[sid].split())
                other = name_of[valid[rng.randrange(len(valid))]]
                while own & set(other.split()):
                    other = name_of[valid[rng.randrange(len(valid))]]
                text = w.answer()
                row = record(q, sid, f"My name is {other}, and {text[0].lower()}{text[1:]}")
            elif kind == "removed_character":
                row = record(q, removed[rng.randrange(len(removed))], fresh(q))
            elif kind == "unknown_character":
                row = record(q, f"oc-x{pos:07d}", fresh(q))
            elif kind == "missing_field":
                row = record(q, sid, fresh(q))
                del row[rng.choice(["response", "question", "character_id"])]
            else:  # malformed_json
                row = record(q, sid, fresh(q))
            line = json.dumps(row, ensure_ascii=False)
            if kind == "malformed_json":
                line = line[: len(line) - rng.randint(5, 40)]
            handles[pos * files // n].write(line + "\n")
    finally:
        for fh in handles:
            fh.close()

    expected: dict[str, dict[str, float]] = {"dropped": {}, "duplicates": {}, "quarantined": {}}
    for kind, (outcome, reason) in DIALOGUE_OUTCOME.items():
        if counts[kind]:
            expected[outcome][reason] = expected[outcome].get(reason, 0) + counts[kind]
    detect = [_detect_probability(j) for j in near_j]
    if near_j:
        expected["duplicates"]["near_duplicate"] = round(sum(detect), 1)
    info = {
        "input": n,
        "files": names,
        "planted": counts,
        "base_rows": len(survivors),
        "dialogues_of_duplicate_character_rows": sum(1 for *_, t in survivors if t and t[1]),
        "expected": expected,
        "near_copies": {
            "jaccard_min": round(min(near_j), 3) if near_j else None,
            "jaccard_mean": round(sum(near_j) / len(near_j), 3) if near_j else None,
            "below_0.8": sum(1 for j in near_j if j < 0.8),
            "expected_missed": round(len(near_j) - sum(detect), 1),
        },
    }
    return info, names, {"survivors": survivors, "near": near_rows}


def _expect_decontamination(infos: dict[str, dict], book: dict[str, dict]) -> None:
    """Fill in ``test_overlap``, ``kept`` and ``repointed_to_kept_twin`` from the survivors."""
    test_questions = {q for b in book.values() for s, q, _d in b["survivors"] if s == "test"}
    for name, b in book.items():
        overlap = sum(1 for s, q, _d in b["survivors"] if s == "train" and q in test_questions)
        # the dialogues of whichever twin exact dedup removes are re-pointed; which one that
        # is is datatrove's choice, so the expectation is a range over the choices
        by_pair: dict[int, list[int]] = {}
        for s, q, t in b["survivors"]:
            if t is not None and not (s == "train" and q in test_questions):
                by_pair.setdefault(t[0], [0, 0])[t[1]] += 1
        repointed = [sum(min(c) for c in by_pair.values()), sum(max(c) for c in by_pair.values())]
        missed = [(s, q, j) for s, q, j in b["near"]]
        # near copies MinHash misses survive and meet the same fate as their source
        missed_overlap = sum(
            1 - _detect_probability(j) for s, q, j in missed if s == "train" and q in test_questions
        )
        missed_kept = sum(1 - _detect_probability(j) for s, q, j in missed) - missed_overlap
        exp = infos[name]["expected"]
        if overlap:
            exp["dropped"]["test_overlap"] = round(overlap + missed_overlap, 1)
        exp["kept"] = round(len(b["survivors"]) - overlap + missed_kept, 1)
        infos[name]["expected_modified"] = {"repointed_to_kept_twin": repointed}
        infos[name]["test_questions"] = len(test_questions)


def _recipe(out: Path, files: dict[str, list[str]], n_chars: int, n_dialogues: int, repo: str):
    def inputs(names: list[str]) -> str:
        return "".join(f"      - path: {n}\n        source: opencharacter-bench\n" for n in names)

    text = f"""\
# Written by benchmarks/release/full_corpus.py: the release benchmark's corpus
# ({n_chars} character rows, {n_dialogues} dialogue rows, planted problems in planted.json).
name: {RECIPE_NAME}
description: >
  Synthetic stand-in for the OpenCharacter release (English-like answers of invented words)
  with planted problems, released end to end by benchmarks/release/bench_release.py.

characters:
  inputs:
    - path: characters.jsonl
      source: opencharacter-bench
      fields:
        profile: character

dialogues:
  - strategy: rewrite
    inputs:
{inputs(files["rewrite"])}  - strategy: generate
    inputs:
{inputs(files["generate"])}
filters:
  quality:
    min_response_words: 5
    max_response_words: 600
    character_breaks: true
  language:
    enabled: true
    languages: [en]
  dedup:
    exact: true
    near:              # default banding: 14 bands x 8 rows (threshold about 0.72)
      shingle_words: 5
    semantic:
      enabled: false
  decontamination:
    ngram: 13
    own_test_split: true

splits:
  test_fraction: {TEST_FRACTION}
  seed: {SPLIT_SEED}

executor:
  type: local
  tasks: 2
  workers: 2

output:
  max_shard_rows: 100000
  row_group_rows: 1000

card:
  pretty_name: OpenCharacter-scale benchmark corpus
  license: cc-by-4.0
  language: [en]
  tags: [role-play, character, synthetic, opencharacter, benchmark]

publish:
  target: local
  repo: {repo}
"""
    (out / "recipe.yaml").write_text(text)


def fingerprint() -> str:
    """Hash of the generator's code (this file and the curation benchmark's writer): a corpus
    written by other code is not reused."""
    import hashlib

    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update((Path(__file__).resolve().parents[1] / "curate" / "corpus.py").read_bytes())
    return h.hexdigest()[:16]


def generate(
    out: Path,
    characters: int = 20_000,
    dialogues: int = 460_000,
    *,
    questions: int | None = None,
    files: int = 8,
    seed: int = 0,
    repo: str = "bench/opencharacter-full",
) -> dict:
    """Write the corpus, ``recipe.yaml`` and ``planted.json`` into ``out``; return the planted info.

    ``questions`` is the size of the question pool both strategies draw from (default one
    question per 2 dialogues, 230k at full size); rewrite rows are 240/460 of
    ``dialogues``.
    """
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("dialogues-*.jsonl"):
        old.unlink()
    w = _FastWriter(seed)
    char_info, tables = _characters(w, characters, out)
    n_questions = questions or max(10, dialogues // 2)
    pool = _questions(w, n_questions)
    originals = [w.sentences(80, 270) for _ in pool]
    n_rewrite = round(dialogues * 240 / 460)
    infos, names, book = {}, {}, {}
    for strategy, n in (("rewrite", n_rewrite), ("generate", dialogues - n_rewrite)):
        origs = originals if strategy == "rewrite" else None
        infos[strategy], names[strategy], book[strategy] = _dialogues(
            w, strategy, n, files, out, pool, origs, tables
        )
    _expect_decontamination(infos, book)
    _recipe(out, names, characters, dialogues, repo)
    share = Counter(tables["split"][s] for s in tables["valid_ids"])
    data = {
        "params": {
            "characters": characters,
            "dialogues": dialogues,
            "questions": n_questions,
            "files": files,
            "seed": seed,
            "generator": fingerprint(),
        },
        "test_fraction": TEST_FRACTION,
        "character_rows_by_split": dict(share),
        "repetition_reasons": list(REPETITION_REASONS),
        "configs": {"characters": char_info, **infos},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "planted.json").write_text(json.dumps(data, indent=2))
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--characters", type=int, default=20_000)
    parser.add_argument("--dialogues", type=int, default=460_000)
    parser.add_argument("--questions", type=int, default=None, help="question pool size")
    parser.add_argument("--files", type=int, default=8, help="input files per strategy")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = generate(
        args.out,
        args.characters,
        args.dialogues,
        questions=args.questions,
        files=args.files,
        seed=args.seed,
    )
    print(json.dumps(data["configs"], indent=2))
    print(f"wrote {args.out} in {data['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

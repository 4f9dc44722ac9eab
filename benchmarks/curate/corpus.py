"""Synthetic role-play corpora with known planted problems (the benchmark's ground truth).

N dialogues over N/10 characters. Answers are 80-270 words of English-like prose (real function
words, a Zipf-distributed vocabulary of invented content words, sentences with punctuation), so
they pass the quality filters. Planted:

- exact copies (3%): another dialogue's answer verbatim (new question id);
- near-duplicates (10%): another answer with 1-8% of its words replaced, inserted or deleted;
  the true 5-gram Jaccard to the source (on MinHash-normalised words) is measured and recorded;
- junk (2%): AI disclaimers, one-word answers, repetitive answers.

Writes ``characters.jsonl``, ``dialogues.jsonl`` (OpenCharacter-G style records) and
``truth.json`` (for every planted copy: its id, its source's id, kind and Jaccard).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from pathlib import Path

from ocforge.filters.textnorm import minhash_words

FUNCTION = (
    "the of and to a in that is was he for it with as his on be at by i this had not are but "
    "from or have an they which one you were her all she there would their we him been has when "
    "who will more no if out so said what up its about into than them can only other new some "
    "could time these two may then do first any my now such like our over man me even most made "
    "after also did many before must through back years where much your way well down should"
).split()
SYLLABLES = [
    "ka",
    "ro",
    "mi",
    "ten",
    "sa",
    "lu",
    "ver",
    "an",
    "to",
    "bel",
    "dor",
    "ish",
    "qua",
    "ne",
    "pol",
    "ri",
    "mun",
    "ta",
    "gle",
    "ba",
    "sor",
    "vi",
    "ent",
    "cal",
    "fo",
    "ny",
]
JUNK = [
    "As an AI language model, I cannot pretend to be this character.",
    "Okay.",
    "I cannot role-play, sorry.",
]


def _vocabulary(rng: random.Random, size: int = 8000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class _Writer:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.vocab = _vocabulary(self.rng)
        # Zipf-like weights for content words (cumulative, so a draw is a bisection)
        self.cum_weights = list(
            itertools.accumulate(1.0 / (i + 10) for i in range(len(self.vocab)))
        )

    def word(self) -> str:
        if self.rng.random() < 0.45:
            return self.rng.choice(FUNCTION)
        return self.rng.choices(self.vocab, cum_weights=self.cum_weights)[0]

    def answer(self) -> str:
        target = self.rng.randint(80, 270)
        sentences, n = [], 0
        while n < target:
            k = self.rng.randint(6, 18)
            words = [self.word() for _ in range(k)]
            if self.rng.random() < 0.3:
                words[self.rng.randrange(1, k)] += ","
            sentences.append(" ".join(words).capitalize() + self.rng.choice(".!?.."))
            n += k
        return " ".join(sentences)

    def edit(self, text: str, fraction: float) -> str:
        words = text.split()
        for _ in range(max(1, round(len(words) * fraction))):
            op, pos = self.rng.random(), self.rng.randrange(len(words))
            if op < 0.5:
                words[pos] = self.word()
            elif op < 0.75:
                words.insert(pos, self.word())
            elif len(words) > 10:
                del words[pos]
        return " ".join(words)


def jaccard(a: str, b: str, n: int = 5) -> float:
    wa, wb = minhash_words(a), minhash_words(b)
    sa = {tuple(wa[i : i + n]) for i in range(max(len(wa) - n + 1, 1))}
    sb = {tuple(wb[i : i + n]) for i in range(max(len(wb) - n + 1, 1))}
    return len(sa & sb) / len(sa | sb)


def generate(n: int, out: Path, seed: int = 0) -> dict:
    """Write a corpus of ``n`` dialogues to ``out``; return the truth."""
    out.mkdir(parents=True, exist_ok=True)
    w = _Writer(seed)
    rng = w.rng
    n_chars = max(n // 10, 1)
    with (out / "characters.jsonl").open("w") as fh:
        for c in range(n_chars):
            profile = (
                f"Name: {w.word().title()} {w.vocab[c % len(w.vocab)].title()}{c}\nAge: {rng.randint(18, 90)}\n"
                f"Gender: {rng.choice(['female', 'male', 'non-binary'])}\nRace: {w.word().title()}\n"
                f"Birth Place: {w.vocab[(c * 7) % len(w.vocab)].title()}\n"
                f"Appearance: {w.answer()[:200]}\nGeneral Experience: {w.answer()[:400]}\n"
                f"Personality: {w.answer()[:200]}"
            )
            fh.write(
                json.dumps(
                    {"character_id": f"c{c}", "persona": f"persona {c}", "character": profile}
                )
                + "\n"
            )
    truth: list[dict] = []
    junk: list[str] = []  # removed by the quality filters; copies of each other, not scored
    junk_set: set[str] = set()
    answers: list[str] = []
    with (out / "dialogues.jsonl").open("w") as fh:
        for i in range(n):
            roll = rng.random()
            kind = "base"
            if i > 10 and roll < 0.03:
                src = rng.randrange(i)
                text, kind = answers[src], "exact"
            elif i > 10 and roll < 0.13:
                src = rng.randrange(i)
                text, kind = w.edit(answers[src], rng.uniform(0.01, 0.08)), "near"
            elif roll < 0.15:
                text, kind = (
                    rng.choice(JUNK) if rng.random() < 0.5 else " ".join(["the same words"] * 30),
                    "junk",
                )
            else:
                text = w.answer()
            answers.append(text)
            if kind == "junk" or (kind in ("exact", "near") and f"d{src}" in junk_set):
                junk.append(f"d{i}")
                junk_set.add(f"d{i}")
                kind = "junk"
            record = {
                "id": f"d{i}",
                "character_id": f"c{rng.randrange(n_chars)}",
                "question_id": f"q{i}",
                "question": f"Question number {i}: what would you do about {w.word()} {w.word()}?",
                "response": text,
            }
            fh.write(json.dumps(record) + "\n")
            if kind in ("exact", "near"):
                truth.append(
                    {
                        "id": f"d{i}",
                        "source": f"d{src}",
                        "kind": kind,
                        "jaccard": jaccard(text, answers[src]),
                    }
                )
    data = {"n": n, "characters": n_chars, "pairs": truth, "junk": junk}
    (out / "truth.json").write_text(json.dumps(data))
    return data


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    info = generate(args.n, args.out, args.seed)
    print(f"{args.n} dialogues, {len(info['pairs'])} planted duplicates -> {args.out}")

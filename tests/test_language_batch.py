"""The batched language id gives exactly py3langid's per-text results (label and float bits),
and LanguageIdFilter.filter_batch the verdicts of the per-document filter."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import numpy as np
import pytest
from datatrove.data import Document

from ocforge.filters import language
from ocforge.filters.language import LanguageIdFilter, classify_batch

ROOT = Path(__file__).resolve().parents[1]

FOREIGN = {
    "es": [
        "Despacio, despacio. Cuando inspeccionaba los barcos de pesca en el norte, los capitanes "
        "que duraban eran los que revisaban el tiempo dos veces y las redes tres veces.",
        "Mi abuela cocinaba sopa de ajo todos los domingos y nadie se atrevía a llegar tarde.",
    ],
    "de": [
        "Langsam, langsam. Als ich die Fischerboote im Norden kontrollierte, waren die Kapitäne, "
        "die durchhielten, diejenigen, die das Wetter zweimal prüften.",
        "Meine Großmutter hat jeden Sonntag Knoblauchsuppe gekocht, und niemand kam zu spät.",
    ],
    "fr": [
        "Doucement, doucement. Quand j'inspectais les bateaux de pêche dans le nord, les "
        "capitaines qui duraient étaient ceux qui vérifiaient la météo deux fois.",
        "Ma grand-mère préparait une soupe à l'ail tous les dimanches et personne n'était en retard.",
    ],
    "ru": [
        "Медленно, медленно. Когда я проверял рыболовные суда на севере, дольше всех держались "
        "капитаны, которые дважды проверяли погоду.",
        "Моя бабушка каждое воскресенье варила чесночный суп, и никто не опаздывал к столу.",
    ],
    "zh": [
        "慢慢来，慢慢来。我在北方检查渔船的时候，坚持最久的船长总是把天气检查两遍，把渔网检查三遍。",
        "我的奶奶每个星期天都做大蒜汤，没有人敢迟到。",
    ],
    "ja": [
        "ゆっくり、ゆっくり。北の漁船を検査していたとき、長く続いた船長は天気を二度確かめる人でした。",
        "祖母は毎週日曜日にニンニクのスープを作っていて、誰も遅れて来ることはありませんでした。",
    ],
    "ar": [
        "ببطء، ببطء. عندما كنت أفتش قوارب الصيد في الشمال، كان القباطنة الذين صمدوا هم الذين "
        "يتحققون من الطقس مرتين.",
        "كانت جدتي تطبخ حساء الثوم كل يوم أحد، ولم يجرؤ أحد على التأخر.",
    ],
    "hi": [
        "धीरे, धीरे। जब मैं उत्तर में मछली पकड़ने वाली नावों का निरीक्षण करता था, तो टिके रहने वाले "
        "कप्तान वही थे जो मौसम को दो बार जाँचते थे।",
        "मेरी दादी हर रविवार को लहसुन का सूप बनाती थीं और कोई भी देर से नहीं आता था।",
    ],
    # py3langid has two columns each for sr and uz (two scripts), merged into one label
    "sr": [
        "Полако, полако. Када сам прегледао рибарске бродове на северу, капетани који су "
        "трајали били су они који су два пута проверавали време.",
        "Polako, polako. Kada sam pregledao ribarske brodove na severu, kapetani koji su "
        "trajali bili su oni koji su dva puta proveravali vreme.",
    ],
    "uz": [
        "Sekin, sekin. Shimolda baliq ovlash qayiqlarini tekshirganimda, eng uzoq ishlagan "
        "kapitanlar ob-havoni ikki marta tekshirganlar edi.",
        "Секин, секин. Шимолда балиқ овлаш қайиқларини текширганимда, энг узоқ ишлаган "
        "капитанлар об-ҳавони икки марта текширганлар эди.",
    ],
}


def _writer(seed: int):
    """The curate benchmark's generator of English-like answers (80-270 words)."""
    spec = importlib.util.spec_from_file_location(
        "curate_corpus", ROOT / "benchmarks" / "curate" / "corpus.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._Writer(seed)


def _demo_answers() -> list[str]:
    answers = []
    for path in sorted((ROOT / "configs" / "demo" / "data").glob("dialogues-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                answers.append(json.loads(line)["response"])
            except (ValueError, KeyError):
                continue  # the demo plants a few broken records
    return answers


def _odd_texts(rng: random.Random) -> list[str]:
    """Texts at the edges: featureless, all caps, unnormalised, surrogates, every row boundary."""
    alphabet = "abcdefghij klmnop,.é中ж😀\u0301\n"
    texts = [
        "",
        " ",
        "   \n\t  ",
        "😀🎉🔥🙈",
        "!!! ??? ...",
        "0123456789",
        "\x00\x01 nul",
        "ÿÿÿ \uffff",
        "THE CAPTAIN CHECKED THE WEATHER TWICE AND THE NETS THREE TIMES, EVERY SINGLE DAY.",
        "МЕДЛЕННО, МЕДЛЕННО. КАПИТАНЫ ДВАЖДЫ ПРОВЕРЯЛИ ПОГОДУ.",
        "Cafe\u0301 na\u0131\u0308ve re\u0301sume\u0301 — decomposed accents to be composed",
        "abc\ud800def lone surrogates \udfff in English words",
        "\ud83d",
    ]
    # one text of each length around the lock-step rows (120 bytes + 8 of warm-up)
    for length in list(range(0, 260)) + [479, 480, 481, 599, 600, 601]:
        texts.append("".join(rng.choice(alphabet) for _ in range(length)))
    return texts


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    rng = random.Random(1)
    writer = _writer(5)
    texts = _demo_answers()
    texts += [writer.answer() for _ in range(150)]
    texts += [s for sentences in FOREIGN.values() for s in sentences]
    texts += [FOREIGN["ru"][0] + " " + texts[0], texts[1].upper()]  # mixed scripts, all caps
    texts += _odd_texts(rng)
    long = " ".join(writer.answer() for _ in range(40))  # ~50 KB
    assert len(long.encode()) > 50_000
    texts += [long, long.upper(), "".join(FOREIGN["zh"]) * 300]
    rng.shuffle(texts)
    return texts


def _bits(result: tuple[str, float]) -> tuple[str, str]:
    label, conf = result
    return label, float.hex(conf)  # exact: -0.0, nan and every last bit count


def _expected(texts: list[str]) -> list[tuple[str, str]]:
    identifier = language._identifier()
    return [_bits(identifier.classify(t)) for t in texts]


def test_batch_is_bit_identical_to_classify(corpus):
    assert len(corpus) > 500
    got = [_bits(r) for r in classify_batch(corpus)]
    assert got == _expected(corpus)
    # the corpus covers the languages it should, so the comparison is not among look-alikes
    assert {label for label, _ in got} >= set(FOREIGN) | {"en"}


def test_batch_takes_the_fast_path(corpus):
    """Every row of every text passes its check: nothing is left to py3langid's own walk."""
    dfa = language._dfa(language._identifier())
    visits = language._first_visit_counts(dfa, [language._encode(t) for t in corpus])
    assert visits.failed == set()
    assert len(visits.bounds) == len(corpus) + 1


def test_grouping_and_walk_passes_do_not_change_results(corpus, monkeypatch):
    # small groups and lock-step passes of a few rows: rows' checks cross pass boundaries
    monkeypatch.setattr(language, "_GROUP_BYTES", 3000)
    monkeypatch.setattr(language, "_GROUP_TEXTS", 7)
    monkeypatch.setattr(language, "_PASS_ROWS", 5)
    texts = corpus[:120] + [t for t in corpus if len(t) > 10_000]
    assert [_bits(r) for r in classify_batch(texts)] == _expected(texts)


def test_a_too_short_warm_up_is_caught_and_falls_back(corpus, monkeypatch):
    """With one byte of warm-up, rows start in the wrong state: the check must notice, and
    those texts must still come out exact (classified by py3langid)."""
    monkeypatch.setattr(language, "_WARMUP", 1)
    texts = corpus[:60] + [t for t in corpus if len(t) > 10_000]
    dfa = language._dfa(language._identifier())
    visits = language._first_visit_counts(dfa, [language._encode(t) for t in texts])
    assert visits.failed  # long texts cannot all start their rows right
    assert [_bits(r) for r in classify_batch(texts)] == _expected(texts)


def test_padding_that_does_not_reset_the_dfa_is_caught(corpus, monkeypatch):
    """Texts are walked after padding that must bring the DFA back to its start state; a pad
    byte that does not must fail every text's first row, which py3langid then classifies."""
    monkeypatch.setattr(language, "_PAD", b"e")
    texts = corpus[:40]
    dfa = language._dfa(language._identifier())
    visits = language._first_visit_counts(dfa, [language._encode(t) for t in texts])
    assert visits.failed == set(range(len(texts)))
    assert [_bits(r) for r in classify_batch(texts)] == _expected(texts)


def test_bytes_past_a_text_are_not_visits():
    """Whatever the padding after the last text of a group, only the text's bytes count."""
    dfa = language._dfa(language._identifier())
    text = language._encode(FOREIGN["de"][0])
    layout = language._Layout.of([text])
    rows = np.repeat(0, layout.rows)
    keys, failed = language._visit_keys(dfa, layout, rows)
    assert len(keys) and not len(failed)
    buf = layout.buf.copy()
    buf[language._WARMUP + len(text) :] = ord("e")  # "eee...": features, were they read
    layout.buf = buf
    again, _ = language._visit_keys(dfa, layout, rows)
    assert np.array_equal(again, keys)
    assert ((keys & language._LOW) < len(text)).all()


def _variant(**options):
    """py3langid's identifier on the same model arrays, with other options."""
    from py3langid.langid import LanguageIdentifier

    base = language._identifier()
    return LanguageIdentifier(
        base.nb_ptc,
        base.nb_pc,
        base.nb_classes,
        base.tk_nextmove,
        base.tk_output,
        tk_row=base.tk_row,
        **options,
    )


@pytest.mark.parametrize(
    "options", [{"norm_probs": False}, {"norm_probs": True, "min_confidence": 0.9999}]
)
def test_raw_scores_and_min_confidence_are_identical_too(corpus, options):
    identifier = _variant(**options)
    got = [_bits(r) for r in classify_batch(corpus, identifier)]
    assert got == [_bits(identifier.classify(t)) for t in corpus]
    if "min_confidence" in options:
        assert any(label == "und" for label, _ in got)


def test_batch_of_one_and_empty_batch():
    text = FOREIGN["fr"][1]
    assert [_bits(r) for r in classify_batch([text])] == _expected([text])
    assert classify_batch([]) == []


def _docs(texts: list[str]) -> list[Document]:
    return [Document(text=t, id=str(i), metadata={}) for i, t in enumerate(texts)]


def _mixed() -> tuple[list[str], set[str]]:
    """English answers, foreign sentences and too-short texts; the ids of the foreign ones."""
    writer = _writer(11)
    texts = [writer.answer() for _ in range(50)]  # (the demo answers plant foreign ones)
    foreign = [s for sentences in FOREIGN.values() for s in sentences]
    texts += foreign + ["Hola.", "", "ok", "😀"]
    random.Random(3).shuffle(texts)
    ids = {str(i) for i, t in enumerate(texts) if t in foreign}
    return texts, ids


def test_filter_batch_matches_filter():
    texts, _ = _mixed()
    step = LanguageIdFilter(["en", "de"], threshold=0.6)
    one_by_one, batched = _docs(texts), _docs(texts)
    expected = [step.filter(d) for d in one_by_one]
    assert step.filter_batch(batched) == expected
    assert [d.metadata for d in batched] == [d.metadata for d in one_by_one]
    assert any(r is not True for r in expected) and any(r is True for r in expected)


class _Excluded:
    """A stand-in exclusion writer that keeps what it is given."""

    def __init__(self):
        self.docs: list[Document] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, doc: Document, rank: int = 0) -> None:
        self.docs.append(doc)


def test_run_in_batches_drops_exactly_the_foreign_texts():
    texts, foreign_ids = _mixed()
    runs = {}
    for batch_size in (1, 16):
        excluded = _Excluded()
        step = LanguageIdFilter(["en"], exclusion_writer=excluded, batch_size=batch_size)
        kept = [d.id for d in step.run(iter(_docs(texts)))]
        runs[batch_size] = (kept, excluded.docs, step.stats.stats)
    kept, dropped, stats = runs[16]
    assert {d.id for d in dropped} == foreign_ids
    assert kept == [str(i) for i in range(len(texts)) if str(i) not in foreign_ids]
    assert all(d.metadata["filter_reason"] == "wrong_language" for d in dropped)
    assert all(d.metadata["detail"].startswith("language ") for d in dropped)
    assert stats["dropped_wrong_language"].total == len(foreign_ids)
    # the per-document run agrees on every kept id, dropped row and count
    kept_1, dropped_1, stats_1 = runs[1]
    assert kept == kept_1
    assert [(d.id, d.metadata) for d in dropped] == [(d.id, d.metadata) for d in dropped_1]
    for key in ("total", "forwarded", "dropped", "dropped_wrong_language"):
        assert stats[key].total == stats_1[key].total


@pytest.mark.parametrize("min_chars", [1, 20, 50])
def test_too_short_counts_non_space_characters(min_chars):
    step = LanguageIdFilter(["en"], min_chars=min_chars)
    texts = ["", " " * 300, " " * 500 + "a" * 19, " " * 500 + "a" * 20, "a b " * 30]
    texts += ["短い文です。" * k for k in range(1, 12)] + ["x\u3000" * 25, "\t".join("ab" * 40)]
    for text in texts:
        expected = len("".join(text.split())) < min_chars  # the rule, as first written
        assert step._too_short(Document(text=text, id="t")) is expected, (min_chars, text)

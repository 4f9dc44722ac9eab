"""Each curation filter with texts it must keep and texts it must remove (issue 4)."""

from __future__ import annotations

import pytest
from datatrove.data import Document

from ocforge.filters.dialogue import (
    NameConsistencyFilter,
    ProfileLeakageFilter,
    RewriteSanityFilter,
    introduced_names,
)
from ocforge.filters.language import LanguageIdFilter
from ocforge.filters.pii import PiiMasker, mask_pii
from ocforge.filters.profile_quality import ProfileCompletenessFilter, age_problem
from ocforge.filters.quality import CharacterBreakFilter, load_patterns
from ocforge.filters.text_quality import answer_quality_filters
from ocforge.filters.textnorm import FastWordTokenizer, minhash_words
from ocforge.recipe import DEFAULT_CHARACTER_BREAKS
from ocforge.records import PROFILE_FIELDS

PROFILE = (
    "Name: Ingrid Solberg\nAge: 63\nGender: female\nRace: Norwegian\nBirth Place: Tromsø, Norway\n"
    "Appearance: Silver braid, weathered hands, a red wool sweater she knitted herself.\n"
    "General Experience: Spent forty years as a fisheries inspector on the Arctic coast, "
    "then opened a small guesthouse for hikers in the Lofoten islands.\n"
    "Personality: Calm, dry humour, suspicious of hurry; ends advice with 'slowly, slowly'."
)
ANSWER = (
    "Slowly, slowly. When I inspected the fishing boats up north, the captains who lasted were "
    "the ones who checked the weather twice and the nets three times. Learning works the same "
    "way: pick one small thing, practise it every day until your hands know it, and only then "
    "add the next. Write down what went wrong, because the sea and your memory both forget. "
    "And drink something warm while you do it, that is my advice."
)


def _doc(text: str, profile: str = PROFILE, original: str | None = None) -> Document:
    record = {
        "messages": [{"role": "system", "content": profile}],
        "response": text,
        "question": "How do I learn something new?",
    }
    if original is not None:
        record["original_response"] = original
    return Document(text=text, id="d", metadata={"record": record})


def _verdict(step, doc: Document):
    result = step.filter(doc)
    return result if result is True else result[1]


# --- character breaks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "As an AI language model, I cannot tell you that.",
        "Well... AS AN A.I., I would say no.",
        "I can't role-play this character, sorry!",
        "Honestly I'M JUST AN AI, you know.",
    ],
)
def test_character_break_patterns_match_any_case_and_punctuation(text):
    step = CharacterBreakFilter(load_patterns(DEFAULT_CHARACTER_BREAKS))
    assert _verdict(step, _doc(text)) == "character_break"


@pytest.mark.parametrize(
    "text",
    [
        ANSWER,
        "I said to the captain: 'as an aide to the harbour master, I saw it all.'",  # 'aide'
        "Ja, my daughter is an AI researcher in Oslo, and she says the same.",
    ],
)
def test_character_break_keeps_in_character_answers(text):
    step = CharacterBreakFilter(load_patterns(DEFAULT_CHARACTER_BREAKS))
    assert _verdict(step, _doc(text)) is True


# --- language ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,lang",
    [
        (
            "Despacio, despacio. Cuando inspeccionaba los barcos de pesca en el norte, los "
            "capitanes que duraban eran los que revisaban el tiempo dos veces.",
            "es",
        ),
        (
            "Doucement, doucement. Quand j'inspectais les bateaux de pêche dans le nord, les "
            "capitaines qui duraient étaient ceux qui vérifiaient la météo deux fois.",
            "fr",
        ),
        (
            "ゆっくり、ゆっくり。北の漁船を検査していたとき、長く続いた船長は天気を二度確かめる人でした。",
            "ja",
        ),
    ],
)
def test_language_filter_drops_other_languages(text, lang):
    doc = _doc(text)
    assert _verdict(LanguageIdFilter(["en"]), doc) == "wrong_language"
    assert f"language {lang!r}" in doc.metadata["detail"]


def test_language_filter_keeps_english_with_unicode_and_accepts_listed_languages():
    text = ANSWER + " Skål — and mind the ‘fjord’ café on the corner, naïve tourists love it."
    assert _verdict(LanguageIdFilter(["en"]), _doc(text)) is True
    spanish = (
        "Despacio, despacio. Los capitanes que duraban revisaban el tiempo dos veces cada día."
    )
    assert _verdict(LanguageIdFilter(["en", "es"]), _doc(spanish)) is True


# --- Gopher quality / repetition on answers ---------------------------------------------------


def _quality(text: str):
    for step in answer_quality_filters(lambda _step: None):
        result = step.filter(_doc(text))
        if result is not True:
            return result[1]
    return True


def test_gopher_filters_keep_clean_answers_of_all_lengths():
    short = "Slowly, slowly: check the weather twice and the nets three times, that is the way."
    assert _quality(short) is True
    assert _quality(ANSWER) is True
    assert _quality(ANSWER.upper()) is True  # stop words are counted in any case


def test_gopher_repetition_drops_repeated_answers():
    assert _quality(" ".join([ANSWER] * 3)) in {
        "dup_para_frac",
        "dup_line_frac",
        "duplicated_5_n_grams",
    }
    assert _quality("Check the nets and the boats with care! " * 12).startswith(("top_", "dup"))


def test_gopher_quality_drops_symbol_heavy_or_wordless_answers():
    assert _quality("# ### ## # the and with to of boats nets " * 3) == "gopher_too_many_hashes"
    assert _quality("1234 5678 91011 1213 1415 1617 1819 2021 2223 2425 the and") is not True


def test_fast_tokenizer_splits_words_and_punctuation_like_spacy():
    tok = FastWordTokenizer()
    assert tok.word_tokenize("Don't panic, Ingrid — it's 3.5 km!") == [
        "Don't",
        "panic",
        ",",
        "Ingrid",
        "—",
        "it's",
        "3",
        ".",
        "5",
        "km",
        "!",
    ]
    assert tok.sent_tokenize("One. Two! Three?") == ["One.", "Two!", "Three?"]


def test_minhash_words_match_datatrove_simplify_text():
    from datatrove.utils.text import TextNormConfig, simplify_text

    for text in [ANSWER, "Ingrid's 3,5 kroner; “café” — naïve Æsir", "MIXED Case, 1999 and 2.5"]:
        assert minhash_words(text) == simplify_text(text, TextNormConfig()).split()


# --- dialogue filters -------------------------------------------------------------------------


def test_name_consistency():
    step = NameConsistencyFilter()
    assert _verdict(step, _doc("Hello, I'm Margaret Dunleavy, and " + ANSWER)) == "wrong_name"
    assert _verdict(step, _doc("My name is Bashir. " + ANSWER)) == "wrong_name"
    assert _verdict(step, _doc("Hello, I'm Ingrid Solberg, and " + ANSWER)) is True
    assert _verdict(step, _doc("Call me Ingrid. " + ANSWER)) is True
    assert _verdict(step, _doc("I'm Norwegian and proud. " + ANSWER)) is True  # not a name
    assert _verdict(step, _doc("Ja, I am Ingrid Sólberg. " + ANSWER)) is True  # accents folded
    assert introduced_names("They call me Old Inge, but It's Ingrid Solberg to you.") == [
        "Old Inge",
        "Ingrid Solberg",
    ]


def test_profile_leakage():
    step = ProfileLeakageFilter(n=8, threshold=0.2)
    recited = (
        "Spent forty years as a fisheries inspector on the Arctic coast, then opened a small "
        "guesthouse for hikers in the Lofoten islands. Calm, dry humour, suspicious of hurry."
    )
    assert _verdict(step, _doc(recited)) == "profile_leakage"
    assert _verdict(step, _doc(ANSWER)) is True


def test_rewrite_sanity():
    step = RewriteSanityFilter(max_similarity=0.9, min_content_kept=0.1)
    original = (
        "To learn a new skill, practise a little every day, focus on one small part at a time, "
        "and keep notes on your mistakes so that you can correct them."
    )
    assert _verdict(step, _doc(original, original=original)) == "not_rewritten"
    assert _verdict(step, _doc(original + " Slowly.", original=original)) == "not_rewritten"
    unrelated = "The harbour freezes in January and the ferry stops running until the thaw comes."
    assert _verdict(step, _doc(unrelated, original=original)) == "content_lost"
    rewrite = (
        "Slowly, slowly. Practise a little every day, like checking the nets, one small part at a "
        "time, and keep notes on your mistakes, because the sea forgets nothing."
    )
    assert _verdict(step, _doc(rewrite, original=original)) is True


# --- profiles ---------------------------------------------------------------------------------


def _profile_doc(**overrides) -> Document:
    from ocforge.profiles import parse_profile

    fields = parse_profile(PROFILE)
    fields.update(overrides)
    profile = "\n".join(f"{k}: {v}" for k, v in fields.items() if v is not None)
    return Document(text=profile, id="c", metadata={"record": {**fields, "profile": profile}})


def test_profile_completeness():
    step = ProfileCompletenessFilter()
    assert _verdict(step, _profile_doc()) is True
    assert _verdict(step, _profile_doc(personality=None)) == "incomplete_profile"
    assert _verdict(step, _profile_doc(appearance="[Appearance]")) == "placeholder_profile"
    assert _verdict(step, _profile_doc(race="TBD")) == "placeholder_profile"
    assert _verdict(step, _profile_doc(age="blue")) == "invalid_age"
    assert _verdict(step, _profile_doc(age="-4")) == "invalid_age"
    assert _verdict(step, _profile_doc(age="in her mid-thirties")) is True
    assert _verdict(step, _profile_doc(age="about 300 (an elf)")) is True
    relaxed = ProfileCompletenessFilter(required=["name", "age"])
    assert _verdict(relaxed, _profile_doc(personality=None)) is True
    assert age_problem("99999", 10_000) is not None
    assert set(PROFILE_FIELDS) >= {"name", "age"}


# --- PII --------------------------------------------------------------------------------------


def test_pii_masking():
    text = (
        "Write to ingrid.solberg+fish@lofoten-guest.no or call +47 912 34 567 / (555) 123-4567; "
        "the server is 192.168.10.20 and fe80:0:0:0:200:f8ff:fe21:67cf. "
        "Not PII: version 3.4.5.6.7, the year 1999, 12 boats, 999.1.1.1."
    )
    masked, counts = mask_pii(text)
    assert counts == {"email": 1, "ip": 2, "phone": 2}
    assert "<EMAIL>" in masked and masked.count("<IP>") == 2 and masked.count("<PHONE>") == 2
    assert "1999" in masked and "12 boats" in masked and "999.1.1.1" in masked
    assert mask_pii(ANSWER) == (ANSWER, {"email": 0, "ip": 0, "phone": 0})
    # the quick "has a digit" pre-check, ASCII and not
    assert mask_pii("Ring the café on +47 912 34 567.")[1]["phone"] == 1
    assert mask_pii("Ring me on +47 912 34 567.")[1]["phone"] == 1
    assert mask_pii("Ping 10.1.2.3")[1]["ip"] == 1


def test_pii_step_masks_record_fields_and_counts():
    doc = Document(
        text="mail me at a@b.co",
        id="x",
        metadata={"record": {"response": "mail me at a@b.co", "question": "Who? 10.0.0.1"}},
    )
    step = PiiMasker()
    (out,) = list(step.run([doc]))
    assert out.text == "mail me at <EMAIL>"
    assert out.metadata["record"]["question"] == "Who? <IP>"
    stats = step.stats.to_dict() if hasattr(step.stats, "to_dict") else step.stats
    assert "pii_email" in str(stats) and "rows_masked" in str(stats)

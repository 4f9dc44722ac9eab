"""Importers (OpenCharacter, Persona Hub, LIMA, Alpaca, PH-Instruct), the synthesis recipe
section, deterministic character assignment and the versioned prompt templates."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from ocforge.builders.assignment import assign_characters
from ocforge.builders.synthesis.inputs import (
    Inputs,
    read_characters,
    read_personas,
    read_questions,
)
from ocforge.builders.synthesis.prompts import load_prompt
from ocforge.builders.synthesis.rollouts import check_profile
from ocforge.errors import ProfileProblem, RecipeError, SynthesisError
from ocforge.recipe import PROMPTS_DIR, InputSpec, load_recipe

GOLDEN = Path(__file__).parent / "golden" / "synth"
DEMO_SYNTH = Path(__file__).resolve().parent.parent / "configs" / "demo" / "synth.yaml"

PROFILE = (
    "Name: Ines Duarte\nAge: 41\nGender: Female\nRace: White (Portuguese)\nBirth Place: Porto\n"
    "Appearance: Short grey hair, paint on her sleeves.\n"
    "General Experience: Restores azulejo tiles for churches.\n"
    "Personality: Patient, dry humour, says 'pois' a lot."
)


def _jsonl(path: Path, rows: list) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _spec(path: Path, **kw) -> InputSpec:
    return InputSpec.model_validate({"path": str(path), **kw})


def test_personahub_rows_and_malformed_rows_are_accounted(tmp_path):
    path = _jsonl(
        tmp_path / "personas.jsonl",
        [
            {"persona": "A glassblower from Murano."},
            {"persona": "A glassblower from Murano."},  # repeated
            {"persona": 7},
            {"text": "no persona column"},
            "{not json",
            {"persona": "   "},
            {"persona": "A tugboat captain on the Elbe."},
        ],
    )
    out = Inputs()
    read_personas([("personas.jsonl", _spec(path, importer="personahub"))], out)
    assert [p["persona"] for p in out.personas] == [
        "A glassblower from Murano.",
        "A tugboat captain on the Elbe.",
    ]
    assert out.tallies["personas"].as_dict() == {
        "read": 7,
        "valid": 2,
        "duplicates": 1,
        "quarantined": 4,
    }
    reasons = {q["line"]: (q["reason"], q["detail"]) for q in out.quarantine}
    assert reasons[3] == (
        "wrong_type",
        "personas.jsonl:3: column 'persona' (persona): expected a string, got int",
    )
    assert reasons[4][0] == "missing_field" and "'persona'" in reasons[4][1]
    assert reasons[5][0] == "malformed_json"
    assert reasons[6] == ("missing_field", "personas.jsonl:6: field 'persona': is empty")


def test_lima_alpaca_ph_instruct_formats(tmp_path):
    lima = _jsonl(
        tmp_path / "lima.jsonl",
        [
            {"conversations": ["Q one?", "A one.", "follow-up", "more"], "source": "stackexchange"},
            {"conversations": ["Q without answer?"]},
            {"conversations": "not a list"},
            {"conversations": []},
            {"source": "no conversations"},
        ],
    )
    alpaca = _jsonl(
        tmp_path / "alpaca.jsonl",
        [
            {"instruction": "Translate.", "input": "Bonjour", "output": "Hello"},
            {"instruction": "Name a colour.", "input": "", "output": "Blue"},
            {"instruction": ["list"], "input": "", "output": "x"},
            {"input": "orphan", "output": "y"},
        ],
    )
    ph = _jsonl(
        tmp_path / "ph.jsonl",
        [
            {"input persona": "a chef", "synthesized text": "How do I sharpen a knife?"},
            {"input persona": "a chef", "prompt": "wrong column"},
        ],
    )
    out = Inputs()
    read_questions("lima", [("lima.jsonl", _spec(lima, importer="lima"))], out)
    read_questions("alpaca", [("alpaca.jsonl", _spec(alpaca, importer="alpaca"))], out)
    read_questions("ph", [("ph.jsonl", _spec(ph, importer="ph-instruct"))], out)

    lima_rows = out.questions["lima"]
    assert [(q["question"], q["original_response"]) for q in lima_rows] == [
        ("Q one?", "A one."),
        ("Q without answer?", None),
    ]
    assert out.tallies["questions:lima"].as_dict() == {
        "read": 5,
        "valid": 2,
        "duplicates": 0,
        "quarantined": 3,
    }
    assert [(q["question"], q["original_response"]) for q in out.questions["alpaca"]] == [
        ("Translate.\n\nBonjour", "Hello"),
        ("Name a colour.", "Blue"),
    ]
    assert out.questions["ph"][0]["question"] == "How do I sharpen a knife?"
    assert out.questions["ph"][0]["original_response"] is None
    by_where = {q["detail"].split(": ")[0]: q for q in out.quarantine}
    assert by_where["lima.jsonl:3"]["reason"] == "wrong_type"
    assert "column 'conversations'" in by_where["lima.jsonl:4"]["detail"]
    assert by_where["alpaca.jsonl:3"]["reason"] == "wrong_type"
    assert "column 'instruction'" in by_where["alpaca.jsonl:4"]["detail"]
    assert "column 'synthesized text' (question)" in by_where["ph.jsonl:2"]["detail"]
    # question ids are content hashes when the corpus has none: stable across runs
    assert len(lima_rows[0]["question_id"]) == 16


def test_field_mapping_renames_importer_columns(tmp_path):
    path = _jsonl(
        tmp_path / "a.jsonl", [{"prompt": "Say hi.", "ctx": "", "answer": "Hi!", "uid": 9}]
    )
    spec = _spec(
        path,
        importer="alpaca",
        fields={"instruction": "prompt", "input": "ctx", "output": "answer", "question_id": "uid"},
    )
    out = Inputs()
    read_questions("alpaca", [("a.jsonl", spec)], out)
    assert out.questions["alpaca"][0] == {
        "question_id": "9",
        "source_corpus": "alpaca",
        "question": "Say hi.",
        "original_response": "Hi!",
        "where": "a.jsonl:1",
    }


def test_opencharacter_characters_parse_or_quarantine(tmp_path):
    path = _jsonl(
        tmp_path / "chars.jsonl",
        [
            {"character_id": "oc-1", "persona": "a tile restorer", "character": PROFILE},
            {"character_id": "oc-2", "persona": "a baker", "character": "Just a baker, no labels."},
            {"character_id": "oc-3", "persona": "a poet"},
            {"character_id": "oc-1", "persona": "a tile restorer", "character": PROFILE},
            {
                "character_id": 4,
                "persona": "a diver",
                "character": "**Name:** Kai\n**Age:** 30\n- Personality: calm",
            },
        ],
    )
    out = Inputs()
    read_characters([("chars.jsonl", _spec(path, importer="opencharacter", limit=5))], out)
    assert [(c["character_id"], c["name"]) for c in out.characters] == [
        ("oc-1", "Ines Duarte"),
        ("4", "Kai"),
    ]
    assert out.tallies["characters"].as_dict() == {
        "read": 5,
        "valid": 2,
        "duplicates": 1,
        "quarantined": 2,
    }
    reasons = sorted((q["line"], q["reason"]) for q in out.quarantine)
    assert reasons == [(2, "unparseable_profile"), (3, "missing_field")]


def test_opencharacter_importer_in_a_build_recipe_quarantines_unparseable_rows(tmp_path):
    from ocforge.flows.build import build

    chars = _jsonl(
        tmp_path / "characters.jsonl",
        [
            {"character_id": "x1", "persona": "p1", "character": PROFILE},
            {"character_id": "x2", "persona": "p2", "character": "no profile here"},
        ],
    )
    dialogues = _jsonl(
        tmp_path / "dialogues.jsonl",
        [
            {
                "cid": "x1",
                "q": "What do you do all day?",
                "a": "Pois, most of the time I am in a cold church with my tools, and I put the "
                "little blue tiles back where they belong, one by one, until the wall is whole.",
            }
        ],
    )
    recipe = {
        "name": "oc-import",
        "characters": {"inputs": [{"path": str(chars), "importer": "opencharacter"}]},
        "dialogues": [
            {
                "strategy": "generate",
                "inputs": [
                    {
                        "path": str(dialogues),
                        "fields": {"character_id": "cid", "question": "q", "response": "a"},
                    }
                ],
            }
        ],
        # this test is about the importer: the text-quality filters are not in question
        "filters": {
            "language": {"enabled": False},
            "quality": {"gopher_quality": False, "gopher_repetition": False},
        },
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    result = build(load_recipe(path), tmp_path / "out")
    characters = result.ledger.configs["characters"]
    assert (characters.input, characters.kept, characters.count("quarantined")) == (2, 1, 1)
    assert characters.reasons["quarantined"] == {"unparseable_profile": 1}


def test_assignment_is_deterministic_and_per_question():
    pool = [f"c{i:02d}" for i in range(20)]
    first = {q: assign_characters(q, pool, 3, seed=7) for q in ("lima:1", "lima:2", "alpaca:9")}
    again = {q: assign_characters(q, list(reversed(pool)), 3, seed=7) for q in first}
    assert first == again  # same seed and pool -> same draw, whatever the pool's order
    assert all(len(set(v)) == 3 and set(v) <= set(pool) for v in first.values())
    other_seed = {q: assign_characters(q, pool, 3, seed=8) for q in first}
    assert other_seed != first
    # a question's draw does not depend on which other questions exist
    assert assign_characters("lima:2", pool, 3, seed=7) == first["lima:2"]
    assert assign_characters("q", ["a", "b"], 3, seed=0) in (["a", "b"], ["b", "a"])
    with pytest.raises(ValueError, match="pool is empty"):
        assign_characters("q", [], 3, seed=0)


def test_check_profile_requires_all_eight_fields():
    text, fields = check_profile("Sure! Here is the profile:\n\n```\n" + PROFILE + "\n```")
    assert text.startswith("Name: Ines Duarte") and "Sure!" not in text
    assert fields["birth_place"] == "Porto"
    with pytest.raises(ProfileProblem, match="no 'Name:' line"):
        check_profile("a character who likes tiles")
    with pytest.raises(ProfileProblem, match="missing or empty: Race, Appearance"):
        check_profile(
            PROFILE.replace("Race: White (Portuguese)\n", "").replace(
                "Appearance: Short grey hair, paint on her sleeves.\n", "Appearance:\n"
            )
        )


def test_prompt_templates_render_the_golden_messages():
    profile = load_prompt(PROMPTS_DIR / "profile-v1.yaml")
    rewrite = load_prompt(PROMPTS_DIR / "rewrite-v1.yaml")
    generate = load_prompt(PROMPTS_DIR / "generate-v1.yaml")
    rendered = {
        "profile": profile.render(persona="A glassblower from Murano."),
        "profile_repair": profile.render_repair(problem="it has no 'Name:' line"),
        "rewrite": rewrite.render(
            character=PROFILE, name="Ines Duarte", question="Why?", original_response="Because."
        ),
        "generate": generate.render(character=PROFILE, name="Ines Duarte", question="Why?"),
    }
    golden = GOLDEN / "templates.json"
    if os.environ.get("OCFORGE_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(rendered, indent=2, ensure_ascii=False) + "\n")
    assert rendered == json.loads(golden.read_text())
    assert (profile.id, profile.version) == ("opencharacter-profile", 1)
    assert rendered["generate"][0]["content"].endswith(PROFILE)  # profile = system prompt


def test_prompt_errors_are_specific(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("id: x\nversion: 1\nmessages:\n  - {role: narrator, content: hi}\n")
    with pytest.raises(SynthesisError, match=r"messages\[0\]: expected \{role: system\|user"):
        load_prompt(bad)
    bad.write_text("id: x\nversion: 1\nmessages:\n  - {role: user, content: '{{ persona }'}\n")
    with pytest.raises(SynthesisError, match="invalid Jinja"):
        load_prompt(bad)
    bad.write_text("id: x\nversion: 1\nmessages:\n  - {role: user, content: '{{ persona }}'}\n")
    with pytest.raises(SynthesisError, match="'persona' is undefined"):
        load_prompt(bad).render(question="q")


def _synth_variant(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(DEMO_SYNTH.read_text())
    base = DEMO_SYNTH.parent

    def absolutize(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "path" and isinstance(value, str):
                    node[key] = str(base / value)
                else:
                    absolutize(value)
        elif isinstance(node, list):
            for item in node:
                absolutize(item)

    absolutize(data)
    mutate(data)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_demo_synthesis_recipe_is_valid():
    recipe = load_recipe(DEMO_SYNTH)
    assert recipe.synthesis is not None
    assert [d.strategy for d in recipe.synthesis.dialogues] == ["rewrite", "generate"]
    assert recipe.characters.inputs[0].synthesis == "characters"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["synthesis"]["backend"].pop("endpoint_url"),
            "synthesis.backend: backend type 'endpoint' needs 'endpoint_url'",
        ),
        (
            lambda d: d["synthesis"]["dialogues"][0].__setitem__("corpora", ["lima", "dolly"]),
            "names unknown corpora dolly",
        ),
        (
            lambda d: d["synthesis"]["questions"][0]["inputs"][0].__setitem__(
                "importer", "personahub"
            ),
            "importer 'personahub' does not fit here: expected one of lima, alpaca, ph-instruct",
        ),
        (
            lambda d: d["synthesis"]["questions"][1]["inputs"][0].__setitem__(
                "fields", {"instructoin": "x"}
            ),
            "unknown importer alpaca field(s) instructoin",
        ),
        (
            lambda d: d["synthesis"]["dialogues"].pop(0),
            "reads synthesis output 'rewrite', which this recipe's synthesis section does not produce",
        ),
        (
            lambda d: d["synthesis"]["generation"].__setitem__("temprature", 0.2),
            "synthesis.generation.temprature: unknown key",
        ),
        (
            lambda d: d["synthesis"]["backend"].__setitem__("api_key_env", "sk-live-123"),
            "synthesis.backend.api_key_env: String should match pattern",
        ),
    ],
)
def test_synthesis_section_errors_name_the_key(tmp_path, mutate, expected):
    path = _synth_variant(tmp_path, mutate)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert any(expected in p and str(path) in p for p in err.value.problems), err.value.problems


def test_paper_recipes_are_valid():
    configs = DEMO_SYNTH.parent.parent
    g = load_recipe(configs / "opencharacter-g.yaml")
    r = load_recipe(configs / "opencharacter-r.yaml")
    assert g.synthesis.backend.type == r.synthesis.backend.type == "vllm"
    assert [q.corpus for q in g.synthesis.questions] == ["lima", "alpaca", "ph-instruct"]
    assert g.synthesis.dialogues[0].corpora == ["lima", "alpaca", "ph-instruct"]
    assert r.synthesis.dialogues[0].corpora == ["lima", "alpaca"]
    assert g.synthesis.assignment.characters_per_question == 3
    limits = {q.corpus: q.inputs[0].limit for q in g.synthesis.questions}
    assert limits == {"lima": None, "alpaca": None, "ph-instruct": 50_000}


def test_profile_rollout_repairs_then_accepts_and_bounds_the_attempts():
    """The rollout's own logic, answer by answer (the server path is in test_synth_endpoint)."""
    import asyncio

    from datatrove.data import Document
    from datatrove.pipeline.inference.types import InferenceResult

    from ocforge.builders.synthesis.rollouts import ProfileRollout

    prompt = load_prompt(PROMPTS_DIR / "profile-v1.yaml")
    doc = Document(text="p", id="persona-1", metadata={"persona": "A glassblower from Murano."})

    def scripted(answers: list[str], sent: list[dict]):
        async def generate(payload: dict) -> InferenceResult:
            sent.append(payload)
            return InferenceResult(text=answers[len(sent) - 1], finish_reason="stop", usage={})

        return generate

    sent: list[dict] = []
    answers = ["Here you go: a glassblower named Ines.", "Name: Ines\nAge: 41", PROFILE]
    result = asyncio.run(ProfileRollout(prompt, max_attempts=3)(doc, scripted(answers, sent)))
    assert result["status"] == "ok" and result["profile"] == PROFILE
    assert [len(p["messages"]) for p in sent] == [2, 4, 6]
    assert sent[1]["messages"][2] == {"role": "assistant", "content": answers[0]}
    assert "it has no 'Name:' line" in sent[1]["messages"][3]["content"]
    assert "missing or empty: Gender, Race" in sent[2]["messages"][5]["content"]
    assert len(result["attempts"]) == 3

    sent = []
    result = asyncio.run(ProfileRollout(prompt, max_attempts=2)(doc, scripted(answers, sent)))
    assert result["status"] == "quarantined" and result["reason"] == "unparseable_profile"
    assert [a["text"] for a in result["attempts"]] == answers[:2] and len(sent) == 2

"""The answer parser: the verdict must come first. REAL_ANSWERS are answers SmolLM2-135M
really gave (GPT4All, temperature 0) to ai-svc's prompts on the demo fleet, as captured by
`bench/judge.py` (bench-judge-answers.json) and by hand with the earlier JSON prompt."""

from __future__ import annotations

import pytest

from ai_svc.verdicts import NotAVerdict, parse
from genfleet_common.messages import Confidence

# (answer, the verdict it holds, or None when it holds none)
REAL_ANSWERS: list[tuple[str, bool | None]] = [
    # prompt 1 (asked for JSON): the 135M model wrote prose, never the object
    (
        "The code meets the requirement. It uses Flask to create a Flask server and serves a "
        "JSON API under /api, which is a JSON API. It also uses Flask to cr",
        True,
    ),
    # prompt 1: more of what it wrote instead of the JSON (bench run, 0 of 56 usable then)
    ("The requirement is not met because the API is not able to re", False),
    ("The requirement is met. The frontend serves a web page on po", True),
    ("The JSON object is not the JSON object requested. The JSON o", None),
    ("The requirement is not supported by the requirements.\n\nThe r", None),
    ('The JSON object is:\n\n```json\n{\n  "met": true,\n  "confidence"', None),
    # prompt 2 (verdict first): bench/judge.py on the demo calibration set, 56 of 56 usable
    ("The code meets the requirement of serving a JSON API under /api and GE", True),
    ("The code meets the", True),  # cut by the time budget: the verdict had come
    ("Yes, this code meets the requirement of meeting the requirement of meetin", True),
    ("Yes, the code meets the requirement: POST /api/tasks with a JSON body ", True),
    ("No, this code does not meet the requirement. It is not possible to sto", False),
    ("No, this code does not meet the requirement. It does not meet the requ", False),
    ("The code meets the requirement of removing a task and answering 204.", True),
]


@pytest.mark.parametrize(("answer", "met"), REAL_ANSWERS)
def test_real_answers(answer: str, met: bool | None) -> None:
    if met is None:
        with pytest.raises(NotAVerdict):
            parse(answer)
    else:
        assert parse(answer).met is met


@pytest.mark.parametrize(
    ("answer", "met"),
    [
        ("MET", True),
        ("NOT_MET", False),
        (" NOT MET\nEvidence: backend/app.py:3-9", False),
        ("not-met: no route", False),
        ("**Verdict:** NOT_MET", False),
        ("Verdict: MET. The tasks table is in SQLite.", True),
        ('"MET"', True),
        ("Yes, the code meets the requirement.", True),
        ("No. There is no DELETE route.", False),
        ("The code does not meet the requirement: 500 on a bad page", False),
        ("The requirement is not met.", False),
        ("Unmet", False),
    ],
)
def test_the_verdict_first_in_its_usual_spellings(answer: str, met: bool) -> None:
    assert parse(answer).met is met


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "   \n",
        "MET or NOT_MET",  # the prompt echoed: no decision
        "NOT_MET / MET",
        "The code uses Flask and SQLite. MET",  # a verdict word later on is not read
        "Metadata: the app has",  # a word that starts like one
        "I cannot tell.",
        "```python\nimport os\n```",
    ],
)
def test_no_verdict_first_is_no_verdict(answer: str) -> None:
    with pytest.raises(NotAVerdict):
        parse(answer)


def test_what_follows_the_verdict_is_explanation_and_evidence() -> None:
    answer = parse(
        "NOT_MET\nEvidence: backend/app.py:116-121, the search builds SQL from the text; "
        "see also frontend/public/app.js line 18. Confidence: HIGH"
    )
    assert answer.met is False and answer.confidence == Confidence.HIGH
    assert answer.explanation.startswith("Evidence: backend/app.py:116-121")
    assert [(e.file, e.lines) for e in answer.evidence] == [
        ("backend/app.py", "116-121"),
        ("frontend/public/app.js", "18-18"),
    ]


def test_no_confidence_stated_is_none() -> None:
    assert parse("MET").confidence is None

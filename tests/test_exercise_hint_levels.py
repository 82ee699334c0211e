"""Hints come in levels: the first wrong answer gets the concept and what to look at (level 1);
checking the same exercise wrong again in the kernel, or `ex.hint(id, 2)`, gets the recipe.

No level-1 hint of any exercise holds code, a formula or number that gives the answer, or the
answer's own tokens (names, tube names, job bodies, values): checked on every wrong answer the
feedback tests use (tests/test_exercise_feedback.py's CASES: the hint tests' wrong answers, the
starters, placeholders and many generated ones).
"""

from __future__ import annotations

import ast
import io
import keyword
import math
import re
import tokenize
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import stalksim.exercises as ex
import tests.test_exercise_feedback as feedback
from tests.realserver import RealBeanstalkd
from tests.test_exercises import LIVE, _answer, learner, live  # noqa: F401 (live: a fixture)

IDS = ex.list_exercises()
CODE_EXERCISES = ["ex-survive-crash", "ex-forgot-delete", "l4-backoff", "ex-backoff",
                  "ex-bury-kick", "l6-live", "ex-live-drain", "l7-idempotent"]

# ---- what a level-1 hint must not hold ------------------------------------------------------

CALL = re.compile(r"[A-Za-z_][\w.]*\([^)]*\)")
"""Call syntax: `reserve(timeout=0)`, `exp(mu + ...)`, `kick(3)`, `stats_job()`."""
CODE_IN_TICKS = re.compile(r"`[^`]*(\w\(|\s=\s|\bdef\b|\bimport\b|\bexcept\s+\w|\[\")[^`]*`")
"""Backticks around a call, an assignment, a definition, an import, an except clause, an index."""
KEYWORD_ARG = re.compile(r"\b[a-z_]+=")
"""`priority=`, `delay=2 ** n`."""
ARITHMETIC = re.compile(r"\d\s*(\*\*|[*/+^×])\s*[\w(]|[\w)]\s*(\*\*|[*/+^×])\s*\d"
                        r"|[\w)] - \d|\d - [\w(]")
"""An operator with a number on one side: `2 ** releases`, `mu + 2.33 * sigma`, `10 + 30`."""


def code_in(text: str) -> list[str]:
    return [m.group(0) for rx in (CALL, CODE_IN_TICKS, KEYWORD_ARG, ARITHMETIC)
            for m in rx.finditer(text)]


def forbidden_numbers(exercise_id: str) -> set[float]:
    """Numbers that are the answer or produce it."""
    if exercise_id in feedback.TTR:
        p99 = feedback.TTR[exercise_id].p99
        return ({float(t) for t in feedback.ttr_passing(exercise_id)}
                | {round(p99, 1), float(round(p99)), float(math.ceil(p99)), 2.33, 2.326, 2.3263})
    return {"l3-crash-vs-hang": {12.0, 40.0, 10.0, 30.0},  # crash time; reserve 10 + TTR 30
            "ex-size-workers": {7.0, 8.0, 5.0, 2.0, 2.5},  # the pools that pass; 2/s x 2.5 s
            "ex-bury-kick": {3.0, 100.0}, "l4-backoff": {0.0, 1.0, 2.0, 5.0},
            "ex-backoff": {2.0, 300.0}, "l6-live": {10.0}, "ex-live-drain": {0.0},
            }.get(exercise_id, set())


def _changed_code(exercise_id: str) -> str:
    """The solution's lines that the starter lacks (counted, so a second copy counts)."""
    e = ex.exercise(exercise_id)
    have = Counter(line.strip() for line in e.starter.splitlines())
    out = []
    for line in (x.strip() for x in e.solution.splitlines()):
        if have[line]:
            have[line] -= 1
        elif line and not line.startswith("#"):
            out.append(line)
    return "\n".join(out)


def code_tokens(source: str) -> set[str]:
    """Names (dotted chains too), string contents and numbers of some code."""
    out: set[str] = set()
    toks = list(tokenize.generate_tokens(io.StringIO(source + "\n").readline))
    chain = ""
    for i, t in enumerate(toks):
        if t.type == tokenize.NAME and not keyword.iskeyword(t.string):
            chain = chain + t.string if chain.endswith(".") else t.string
            out.add(t.string)
            out.add(chain)
            if i + 1 < len(toks) and toks[i + 1].string == ".":
                chain += "."
                continue
        elif t.type == tokenize.STRING:
            out.add(str(ast.literal_eval(t.string)))
        elif t.type == tokenize.NUMBER:
            out.add(t.string)
        if t.string != ".":
            chain = ""
    return {x for x in out if len(x) > 2 or not x.isalpha()} - {"answer", "handle"}


def answer_tokens(exercise_id: str) -> set[str]:
    """The tokens that make up the right answer."""
    if exercise_id in feedback.ORDERS:  # every job body of the task: naming one is an edit to make
        text = ex.show(exercise_id)
        return (set(ex.solution(exercise_id).split('"')[1::2])
                | set(re.findall(r'\("(\w+)", ', text)) | set(re.findall(r'`"(\w+)"`', text)))
    if exercise_id in CODE_EXERCISES:  # less where the server is (the instructions say it)
        return code_tokens(_changed_code(exercise_id)) - {
            "127.0.0.1", "11300", "BEANSTALKD_HOST", "BEANSTALKD_PORT"}
    right = feedback.solution_answer(exercise_id)
    if isinstance(right, dict):
        return {str(x) for v in right.values() for x in (v if isinstance(v, list) else [v])}
    return set()


def mine(answer: Any) -> set[str]:
    """The learner's own tokens (a hint may talk about the learner's own choice)."""
    if isinstance(answer, dict):
        return {str(x) for v in answer.values()
                for x in (v if isinstance(v, list | tuple) else [v])}
    if isinstance(answer, list | tuple):
        return {str(x) for x in answer}
    return set()


def tokens_in(text: str, tokens: set[str], allowed: set[str]) -> list[str]:
    """Tokens shown in backticks or quotes, or bare where they look like code (a dot, an
    underscore, a digit, a hyphen, a capital inside: `job.body`, `o2`, `l6-exercise`)."""
    quoted = set(re.findall(r"`([^`]+)`|\"([^\"]+)\"|'([^']+)'", text))
    quoted = {q for group in quoted for q in group if q}
    found = [t for t in tokens - allowed if t in quoted]
    found += [t for t in tokens - allowed if re.search(r"[._\d-]|[a-z][A-Z]", t)
              and re.search(rf"(?<![\w.]){re.escape(t)}(?![\w])", text)]
    return sorted(set(found))


def what_gives_away(exercise_id: str, answer: Any, hint: str) -> list[str]:
    found = [f"code {c!r}" for c in code_in(hint)]
    bad = forbidden_numbers(exercise_id) - feedback.values_in(answer)
    found += [f"number {n:g}" for n in sorted(feedback.numbers(hint) & bad)]
    allowed = set() if exercise_id in feedback.ORDERS else mine(answer)  # job bodies: never
    found += [f"token {t!r}" for t in tokens_in(hint, answer_tokens(exercise_id), allowed)]
    return found


# ---- the tests --------------------------------------------------------------------------------

def test_the_rules_catch_the_old_hints() -> None:
    """Each culprit of issue 23 (finding 3), as it was, is caught."""
    old = {
        "ex-ttr": "the TTR must be longer than almost every service time, not the typical one: "
                  "compute the 99th percentile, exp(mu + 2.33 * sigma), and round it up to "
                  "whole seconds.",
        "l6-live": "that's still the simulator: change sim.client() to greenstalk.Client((host, "
                   "port)), e.g. greenstalk.Client((\"127.0.0.1\", 11300)).",
        "l7-idempotent": "before you send, look whether `job.body` is in `done` already (then "
                         "this email went out before), and after sending add `job.body` to "
                         "`done`: `done` outlives the worker and the server.",
        "l1-tubes": "`a` went into `default`, and this consumer ignores `default`.",
        "ex-bury-kick": "kick(bound) kicks at most `bound` jobs: kick(3), or a bigger bound, "
                        "gets them all.",
        "ex-size-workers": "the workers must keep up first: jobs arrive at 2/s and take 2.5 s, "
                           "so 5 workers are busy all the time.",
        "ex-design-tubes": "no producer puts into `invoice` (did you mean `invoices`?).",
    }
    for exercise_id, hint in old.items():
        answer = {"ex-design-tubes": {"billing": ["orders", "invoice"]},
                  "l1-tubes": ["a", "b", "c"]}.get(exercise_id, 0)
        assert what_gives_away(exercise_id, answer, hint), exercise_id


#: Wrong answers that reach the hints CASES does not: a learner's error, a recover() that
#: deletes or reserves the kicked jobs, a handle that never deletes a paid job.
EXTRA: list[tuple[str, Any]] = [
    ("l4-backoff", "def handle(client, job):\n    if client.stats_job(job)['release'] > 1:\n"
                   "        client.bury(job)\nanswer = handle\n"),
    ("ex-survive-crash", "def handle(client, job, work):\n    work(job)\n"
                         "    client.delete(job.idd)\nanswer = handle\n"),
    ("ex-bury-kick", "def recover(client):\n    client.use('orders')\n    client.kick(3)\n"
                     "    client.watch('orders')\n    for _ in range(3):\n"
                     "        client.delete(client.reserve(timeout=0))\nanswer = recover\n"),
    ("ex-bury-kick", "def recover(client):\n    client.use('orders')\n    client.kick(3)\n"
                     "    client.watch('orders')\n    client.reserve(timeout=0)\n"
                     "answer = recover\n"),
    ("ex-backoff", "from stalksim.exercises import ServiceDown\n"
                   "def handle(client, job, call_service):\n    try:\n"
                   "        call_service(job)\n    except ServiceDown:\n"
                   "        client.release(job, delay=2 ** client.stats_job(job)['releases'])\n"
                   "    else:\n        client.release(job, delay=100_000)\nanswer = handle\n"),
    ("ex-live-drain", "def drain(client):\n    bodies = []\n    while True:\n"
                      "        job = client.reserve()\n        bodies.append(job.body)\n"
                      "        client.delete(job)\nanswer = drain\n"),
    ("ex-live-drain", "import greenstalk\ndef drain(client):\n    while True:\n        try:\n"
                      "            client.delete(client.reserve(timeout=1))\n"
                      "        except greenstalk.TimedOutError:\n            continue\n"
                      "answer = drain\n"),
]


def cases() -> Iterator[tuple[str, Any]]:
    seen = set()
    for exercise_id, answer in feedback.CASES + EXTRA:
        key = (exercise_id, repr(answer))
        if key not in seen:
            seen.add(key)
            yield exercise_id, answer


@pytest.mark.parametrize("exercise_id", IDS)
def test_no_level_1_hint_gives_the_answer_away(exercise_id: str,
                                               request: pytest.FixtureRequest) -> None:
    if exercise_id in LIVE:
        request.getfixturevalue("live")
    problems, seen = [], 0
    for i, answer in cases():
        if i != exercise_id:
            continue
        value = _answer(answer)
        fb = ex.check(i, value)
        assert not fb.ok and fb.hints, (answer, fb.message)
        seen += 1
        why = what_gives_away(i, value, fb.hints[0])
        if why:
            problems.append(f"{answer!r:.70}: {', '.join(why)}\n    level 1: {fb.hints[0]}")
    assert seen >= 4
    assert not problems, "\n".join(problems)


@pytest.fixture
def fresh() -> Iterator[None]:
    """A kernel that has checked nothing yet."""
    ex._wrong_checks.clear()
    ex._last.clear()
    yield
    ex._wrong_checks.clear()
    ex._last.clear()


@pytest.mark.parametrize("exercise_id,wrong", [
    ("ex-ttr", 4), ("l5-ttr-choice", 3), ("l1-tubes", ["a", "b", "c"]),
    ("l7-idempotent", ex.exercise("l7-idempotent").starter),
    ("l6-live", ex.exercise("l6-live").starter)])
def test_a_repeated_wrong_answer_gets_the_recipe(fresh: None, exercise_id: str,
                                                 wrong: Any) -> None:
    first = ex.check(exercise_id, _answer(wrong) if isinstance(wrong, list | int) else
                     learner(wrong))
    assert not first.ok and first.level == 1 and len(first.hints) == 2
    assert first.hint == first.hints[0] != first.hints[1]
    assert f'`ex.hint("{exercise_id}", 2)` (`stalksim.exercises.hint` in the lessons)' in str(
        first)
    assert first.hints[1] not in first.message and first.hints[1] not in first._repr_html_()
    again = ex.check(exercise_id, _answer(wrong) if isinstance(wrong, list | int) else
                     learner(wrong))
    assert again.level == 2 and again.hint == first.hints[1]
    assert again.hint in again.message and "Still stuck" not in again.message
    assert ex.hint(exercise_id, 1).hint == first.hints[0]
    assert ex.hint(exercise_id, 2).hint == first.hints[1]


def test_a_right_answer_starts_the_count_again(fresh: None) -> None:
    assert ex.check("ex-ttr", 4).level == 1
    assert ex.check("ex-ttr", 3).level == 2  # another wrong answer: repeated, recipe
    assert ex.check("ex-ttr", learner(ex.solution("ex-ttr"))).ok
    assert ex.check("ex-ttr", 4).level == 1
    assert ex.check("l5-ttr-choice", 4).level == 1  # counted per exercise


def test_hint_before_any_check_says_what_to_do(fresh: None) -> None:
    text = ex.hint("ex-ttr", 2)
    assert "No answer to `ex-ttr` was checked yet" in text and "check(" in text
    with pytest.raises(KeyError):
        ex.hint("ex-nope")
    ex.check("ex-ttr", learner(ex.solution("ex-ttr")))
    assert "was right" in ex.hint("ex-ttr")


def test_levels_beyond_the_last_show_the_last(fresh: None) -> None:
    ex.check("l3-crash-vs-hang", {"crash": 42, "hang": 40})  # one level only
    fb = ex.hint("l3-crash-vs-hang", 5)
    assert fb.level == len(fb.hints) == 1 and "Still stuck" not in fb.message


def test_live_level_1_hints_give_nothing_away(request: pytest.FixtureRequest) -> None:
    """The steps of l6-live on a live server: no client, a client, a put, a reserve."""
    import greenstalk

    address = request.getfixturevalue("live")

    def level_1(client: Any) -> str:
        fb = ex.check("l6-live", client)
        assert not fb.ok
        assert not what_gives_away("l6-live", client, fb.hints[0]), fb.hints[0]
        return fb.hints[0]

    with greenstalk.Client(address) as client:
        level_1(client)
        client.use("l6-exercise")
        client.put("hello", priority=3)
        level_1(client)
        client.watch("l6-exercise")
        client.reserve(timeout=5)
        assert "priority the instructions give" in level_1(client)
    server = RealBeanstalkd().start()
    with greenstalk.Client(server.address) as client:
        server.stop()
        assert "`beanstalkd -l 127.0.0.1 -p 11300 &`" in level_1(client)  # no server


def test_the_exercise_notebooks_say_how_to_get_the_next_hint() -> None:
    """Instructor and student notebooks, and the scaffold of a new one, name `ex.hint`."""
    import importlib.util
    from pathlib import Path

    import nbformat

    script = Path(__file__).resolve().parent.parent / "scripts" / "make_student_notebooks.py"
    spec = importlib.util.spec_from_file_location("make_student_notebooks", script)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    paths = sorted(gen.INSTRUCTOR.glob("*.ipynb")) + sorted(gen.EXERCISES.glob("*.ipynb"))
    assert len(paths) >= 26
    for path in paths:
        exercise_id = gen.NAME.match(path.name)[2]
        intro = nbformat.read(path, as_version=4).cells[0].source
        assert f'`ex.hint("{exercise_id}", 2)`' in intro, path
    assert '`ex.hint("ex-ttr", 2)`' in gen.scaffold("ex-ttr", 10).cells[0].source

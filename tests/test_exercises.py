"""The exercises' checks: solutions pass, typical wrong answers get a useful hint, and learner
code that raises or never stops gets a clear, bounded message."""

from __future__ import annotations

import linecache
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import greenstalk
import pytest

import stalksim
import stalksim.exercises as ex
from tests.realserver import RealBeanstalkd

IDS = ex.list_exercises()
LIVE = {"l6-live", "ex-live-drain"}


def learner(code: str, name: str = "answer") -> Any:
    """Run `code` as a learner's notebook cell would (its source visible to tracebacks)."""
    filename = f"<learner-cell-{abs(hash(code))}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    ns: dict[str, Any] = {}
    exec(compile(code, filename, "exec"), ns)
    return ns[name]


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    """A real beanstalkd, announced to the checks through BEANSTALKD_HOST/PORT."""
    server = RealBeanstalkd().start()
    mp = pytest.MonkeyPatch()
    mp.setenv("BEANSTALKD_HOST", server.host)
    mp.setenv("BEANSTALKD_PORT", str(server.port))
    yield server.address
    mp.undo()
    server.stop()


def test_at_least_ten_classroom_exercises_cover_every_lesson() -> None:
    classroom = [i for i in IDS if i.startswith("ex-")]
    assert len(classroom) >= 10
    assert {ex.exercise(i).lesson for i in classroom} == set(range(1, 7))
    assert {"l1-tubes", "l2-priority-order", "l3-crash-vs-hang", "l4-backoff",
            "l5-ttr-choice", "l6-live"} <= set(IDS)


@pytest.mark.parametrize("exercise_id", IDS)
def test_solution_passes(exercise_id: str, request: pytest.FixtureRequest) -> None:
    if exercise_id in LIVE:
        request.getfixturevalue("live")
    fb = ex.check(exercise_id, learner(ex.solution(exercise_id)))
    assert fb.ok, fb.message
    assert fb.message.startswith("Right")


H = "def handle(client, job):\n"
H3 = "def handle(client, job, work):\n"
HB = "from stalksim.exercises import ServiceDown\n\ndef handle(client, job, call_service):\n"
H7 = "def handle(client, job, send_email, done):\n"
ONCE_BY_ID = (H7 + "    if job.id not in done:\n        send_email(job.body)\n"
              "        done.add(job.id)\n    client.delete(job)\nanswer = handle\n")
POISON = ('    if job.body != "fail":\n        client.delete(job)\n        return\n'
          '    n = client.stats_job(job)["releases"]\n')
# exercise -> [(answer, or code defining `answer`; words the hint must contain)]
WRONG: dict[str, list[tuple[Any, str]]] = {
    "l1-tubes": [(["a", "b", "c"], "ignores `default`"), (["c", "b"], "smaller job id"),
                 ("b, c", "list of")],
    "l2-priority-order": [(["A", "C", "E", "B", "D", "F"], "0 is the most urgent"),
                          (["A", "B", "C", "D", "E", "F"], "put order"),
                          (["F", "D", "B", "A", "C", "E"], "ties go to the smallest job id")],
    "ex-predict-priorities": [(["backup", "report", "resize", "invoice", "page", "alert"],
                               "0 is the most urgent"),
                              (["alert", "page", "invoice", "resize", "report", "backup"],
                               "put first")],
    "ex-equal-priorities": [(["C", "D", "A", "B"], "keeps its id"),
                            (["A", "B", "C", "D"], "changes B's priority")],
    "ex-predict-tubes": [(["o2", "o1", "e2", "e1"], "across every watched tube"),
                         (["d1", "e2", "o2", "o1", "e1"], "does not watch")],
    "ex-design-tubes": [
        ({"mailer": ["emails.signup", "emails.reset"], "reset-mailer": ["emails.reset"],
          "billing": ["orders", "invoices"], "imager": ["thumbnails"]}, "not a broadcast"),
        ({"mailer": ["emails.signup"], "reset-mailer": ["emails.reset"],
          "billing": ["orders", "invoice"], "imager": ["thumbnails"]}, "did you mean `invoices`"),
        ({"mailer": ["emails.signup"]}, "one entry for each")],
    "l3-crash-vs-hang": [({"crash": 40, "hang": 12}, "closes the connection"),
                         ({"crash": 42, "hang": 40}, "does not start a TTR countdown"),
                         ({"crash": 12, "hang": 42}, "counts from the reserve"),
                         ({"crash": 12, "hang": 12}, "cannot tell it hung")],
    "ex-survive-crash": [(H3 + "    client.delete(job)\n    work(job)\nanswer = handle\n",
                          "only after its work is done"),
                         (H3 + "    try:\n        work(job)\n    finally:\n"
                          "        client.delete(job)\nanswer = handle\n",
                          "outside any finally or except"),
                         (H3 + "    work(job)\nanswer = handle\n", "TTR runs out")],
    "ex-forgot-delete": [(ex.exercise("ex-forgot-delete").starter, "TTR runs out"),
                         (H3 + "    work(job)\n    client.release(job)\nanswer = handle\n",
                          "delete the job instead"),
                         (H3 + "    work(job)\n    client.touch(job)\nanswer = handle\n",
                          "TTR runs out")],
    "ex-explain-trace": [({"crashed": "w3", "hung": "w2"}, "exactly 20 s"),
                         ({"crashed": "w1", "hung": "w3"}, "deliberate retry"),
                         ({"crashed": "w?", "hung": "w?"}, "worker names")],
    "l4-backoff": [
        (H + "    client.delete(job)\nanswer = handle\n", "bury the job"),
        (H + POISON + "    client.release(job, delay=0)\nanswer = handle\n",
         "(the third attempt) -> client.bury"),
        (H + POISON + "    client.bury(job)\nanswer = handle\n", "0 on the first attempt"),
        (H + POISON + "    if n >= 3:\n        client.bury(job)\n    else:\n"
         "        client.release(job, delay=5 * 2 ** n)\nanswer = handle\n", "2 on the third"),
        (H + POISON + "    if n >= 2:\n        client.bury(job)\n    else:\n"
         "        client.release(job, delay=5)\nanswer = handle\n", "bigger than the last"),
        (H + "    if job.body == 'fail':\n        client.bury(job)\nanswer = handle\n",
         "delete it")],
    "ex-backoff": [
        (HB + "    try:\n        call_service(job)\n    except ServiceDown:\n"
         "        client.release(job)\n    else:\n        client.delete(job)\nanswer = handle\n",
         "grows each time"),
        (HB + "    try:\n        call_service(job)\n    except ServiceDown:\n"
         "        client.release(job, delay=10)\n    else:\n        client.delete(job)\n"
         "answer = handle\n", "double the delay"),
        (HB + "    try:\n        call_service(job)\n    except ServiceDown:\n"
         "        client.bury(job)\n    else:\n        client.delete(job)\nanswer = handle\n",
         "bury is for poison jobs"),
        (ex.exercise("ex-backoff").starter, "except ServiceDown")],
    "ex-bury-kick": [
        ("def recover(client):\n    client.kick(10)\nanswer = recover\n", "the client *uses*"),
        ("def recover(client):\n    client.use('orders')\n    client.kick(1)\n"
         "answer = recover\n", "at most `bound`"),
        ("def recover(client):\n    for t in ('orders', 'emails'):\n        client.use(t)\n"
         "        client.kick(10)\nanswer = recover\n", "leave `emails` alone")],
    "l5-ttr-choice": [(4, "99th percentile"), (8, "99th percentile"),
                      (120, "when a worker hangs"), (15.5, "whole number")],
    "ex-ttr": [(4, "99th percentile"), (15, "99th percentile"), (600, "when a worker hangs")],
    "ex-size-workers": [(5, "never drains"), (6, "add workers"), (20, "smallest pool")],
    "l6-live": [("import stalksim\nanswer = stalksim.Simulation().client()\n",
                 "that's still the simulator: change sim.client() to greenstalk.Client"),
                ("answer = ('127.0.0.1', 11300)\n", "greenstalk.Client((host, port))")],
    "l7-idempotent": [
        (ex.exercise("l7-idempotent").starter, "look whether `job.body` is in `done`"),
        (H7 + "    if job.body not in done:\n        send_email(job.body)\n"
         "    client.delete(job)\nanswer = handle\n", "add `job.body` to `done`"),
        (ONCE_BY_ID, "the job id is no lasting key"),
        (H7 + "    if job.body in done:\n        return\n    send_email(job.body)\n"
         "    done.add(job.body)\n    client.delete(job)\nanswer = handle\n",
         "delete the job in every case"),
        (H7 + "    client.delete(job)\nanswer = handle\n", "send every email")],
    "ex-live-drain": [
        (ex.exercise("ex-live-drain").starter, "append job.body"),
        ("import greenstalk\ndef drain(client):\n    out = []\n    while True:\n        try:\n"
         "            job = client.reserve()\n        except greenstalk.TimedOutError:\n"
         "            return out\n        out.append(job.body)\n        client.delete(job)\n"
         "answer = drain\n", "reserve(timeout=0)"),
        ("import greenstalk\ndef drain(client):\n    out = []\n    while True:\n        try:\n"
         "            job = client.reserve(timeout=0)\n        except greenstalk.TimedOutError:\n"
         "            return out\n        out.append(job.body)\nanswer = drain\n",
         "delete each job")],
}

#: The lessons' starter cells (notebooks/0*.ipynb, last cell), as answers.
LESSON_STARTERS: list[tuple[str, Any]] = [
    ("l1-tubes", ["a", "b", "c"]), ("l2-priority-order", ["A", "B", "C", "D", "E", "F"]),
    ("l3-crash-vs-hang", {"crash": None, "hang": None}),
    ("l4-backoff", "def handle(client, job):\n    client.release(job, delay=1)\n"
                   "answer = handle\n"),
    ("l5-ttr-choice", 3),
    ("l7-idempotent", "def handle(client, job, send_email, done):\n    send_email(job.body)\n"
                      "    client.delete(job)\nanswer = handle\n")]


def _answer(value: Any) -> Any:
    return learner(value) if isinstance(value, str) and "answer =" in value else value


def test_every_exercise_has_wrong_answers() -> None:
    assert set(WRONG) == set(IDS)
    assert all(len(v) >= 2 for v in WRONG.values())


@pytest.mark.parametrize("exercise_id,answer,hint", [
    (i, a, h) for i, cases in WRONG.items() for a, h in cases])
def test_wrong_answer_rejected_with_hint(exercise_id: str, answer: Any, hint: str,
                                         request: pytest.FixtureRequest) -> None:
    if exercise_id in LIVE:
        request.getfixturevalue("live")
    fb = ex.check(exercise_id, _answer(answer))
    assert not fb.ok
    assert fb.wrong and fb.hint, fb
    assert hint in fb.last_hint, fb.message
    assert "incorrect" not in fb.message.lower()
    assert "Traceback" not in fb.message and "stalksim/" not in fb.message


@pytest.mark.parametrize("exercise_id,code", [
    ("l4-backoff", H + "    n = 1 / 0\nanswer = handle\n"),
    ("ex-survive-crash", H3 + "    work(job)\n    client.delete(job.idd)\nanswer = handle\n"),
    ("ex-bury-kick", "def recover(client):\n    client.use('orders')\n"
                     "    client.kick(int('all'))\nanswer = recover\n"),
    ("ex-live-drain", "def drain(client):\n    return [client.reserve(timeout=0).bdy]\n"
                      "answer = drain\n"),
])
def test_learner_exception_names_it_and_the_learners_line(exercise_id: str, code: str) -> None:
    fb = ex.check(exercise_id, learner(code))
    assert not fb.ok
    assert " raised " in fb.wrong and " at line " in fb.wrong, fb.wrong
    assert "Traceback" not in fb.message and "stalksim/" not in fb.message
    bad_line = next(line.strip() for line in code.splitlines()
                    if "1 / 0" in line or ".idd" in line or "'all'" in line or "bdy" in line)
    assert f"`{bad_line}`" in fb.wrong


@pytest.mark.parametrize("exercise_id", ["l4-backoff", "ex-backoff", "ex-bury-kick",
                                         "ex-survive-crash", "ex-live-drain", "l7-idempotent"])
def test_an_answer_that_is_no_function_is_told_so(exercise_id: str) -> None:
    """Regression: `if bad:` on a Feedback (false unless ok) ran the int 3 as a handle."""
    fb = ex.check(exercise_id, 3)
    assert fb.wrong.startswith("the answer must be your function"), fb.wrong
    assert fb.hints[0].startswith("define a function") and "`def " in fb.hints[-1]


def test_learner_error_hint_explains_common_exceptions() -> None:
    code = H + "    client.delete(job)\n    client.delete(job)\nanswer = handle\n"
    fb = ex.check("l4-backoff", learner(code))
    assert "greenstalk.NotFoundError" in fb.wrong and "line 3" in fb.wrong
    assert "no longer holds that job" in fb.hint


@pytest.mark.parametrize("exercise_id,code", [
    ("l4-backoff", H + "    while True: pass\nanswer = handle\n"),
    ("ex-bury-kick", "def recover(client):\n    n = 0\n    while n >= 0:\n        n += 1\n"
                     "answer = recover\n"),
])
def test_endless_loop_in_real_time_is_stopped(exercise_id: str, code: str) -> None:
    start = time.monotonic()
    fb = ex.check(exercise_id, learner(code))
    assert not fb.ok and "endless loop" in fb.message
    assert time.monotonic() - start < 30


def test_endless_loop_in_virtual_time_is_bounded() -> None:
    code = ("import greenstalk\ndef drain(client):\n    out = []\n    while True:\n"
            "        try:\n            job = client.reserve(timeout=1)\n"
            "        except greenstalk.TimedOutError:\n            continue\n"
            "        out.append(job.body)\n        client.delete(job)\nanswer = drain\n")
    fb = ex.check("ex-live-drain", learner(code))
    assert not fb.ok and "virtual seconds" in fb.wrong and "never stops" in fb.wrong
    assert "TimedOutError" in fb.last_hint


def test_consumer_that_retries_for_ever_is_bounded_in_virtual_time() -> None:
    code = H + "    client.release(job)\nanswer = handle\n"
    fb = ex.check("l4-backoff", learner(code))
    assert not fb.ok and "stopped the simulation at t=600 s" in fb.wrong


def test_feedback_renders() -> None:
    good = ex.check("l1-tubes", ["b", "c"])
    bad = ex.check("l1-tubes", ["c"])
    assert good and not bad
    assert "data-ok='true'" in good._repr_html_() and "#2e7d32" in good._repr_html_()
    assert "data-ok='false'" in bad._repr_html_() and "#c62828" in bad._repr_html_()
    assert "<code>" in bad._repr_html_() and "<script" not in bad._repr_html_()
    assert str(good).startswith("[OK] l1-tubes") and str(bad).startswith("[NOT YET] l1-tubes")
    assert "Hint:" in str(bad)


def test_show_and_solution() -> None:
    text = ex.show("ex-ttr")
    assert text._repr_markdown_().startswith("### ") and 'check("ex-ttr", answer)' in text
    sol = ex.solution("ex-ttr")
    html = sol._repr_html_()
    assert html.startswith("<details") and "<details open" not in html
    assert "answer =" in str(sol) and "<" not in str(sol)
    with pytest.raises(KeyError, match="known"):
        ex.show("ex-nope")


def test_checks_are_deterministic() -> None:
    a = ex.check("ex-forgot-delete", learner(ex.exercise("ex-forgot-delete").starter))
    b = ex.check("ex-forgot-delete", learner(ex.exercise("ex-forgot-delete").starter))
    assert a.at_level(1).message == b.at_level(1).message and a.hints == b.hints
    assert len(a.trace) == len(b.trace)


def test_failed_run_keeps_its_trace() -> None:
    fb = ex.check("ex-forgot-delete", learner(ex.exercise("ex-forgot-delete").starter))
    assert any(r.cause == "ttr-expired" for r in fb.trace)


def test_live_check_without_a_server_says_how_to_start_one() -> None:
    server = RealBeanstalkd().start()
    client = greenstalk.Client(server.address)
    server.stop()
    fb = ex.check("l6-live", client)
    assert not fb.ok and "beanstalkd -l 127.0.0.1 -p 11300" in fb.last_hint
    client.close()


def test_live_check_leaves_the_clients_tubes_alone(live: tuple[str, int]) -> None:
    with greenstalk.Client(live, use="l6-exercise", watch=["l6-exercise", "also"]) as client:
        client.put("mine", priority=10)
        client.reserve(timeout=1)
        assert ex.check("l6-live", client).ok
        assert client.using() == "l6-exercise"
        assert sorted(client.watching()) == ["also", "l6-exercise"]
        assert client.stats_tube("l6-exercise")["current-jobs-reserved"] == 0  # deleted


def test_import_stays_light() -> None:
    code = ("import sys, stalksim, stalksim.exercises as ex; ex.list_exercises(); "
            "assert not {'matplotlib', 'pandas', 'ipywidgets'} & set(sys.modules), "
            "sorted(m for m in sys.modules if m in ('matplotlib', 'pandas', 'ipywidgets'))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=stalksim.__path__[0] + "/..")

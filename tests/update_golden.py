"""Regenerate the golden traces of the named scenarios: `python -m tests.update_golden [NAME...]`.

Each file in tests/golden/ holds one scenario's event sequence as readable lines
("time job tube src->dst cause actor", time rounded to 1 ms), so a review reads the story and
a diff shows exactly which event moved. Regenerate only on purpose, then read the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from stalksim.scenarios import SCENARIOS, run_scenario
from stalksim.trace import Trace

GOLDEN = Path(__file__).parent / "golden"
SEED = 0
UNTIL = {"many-workers": 10.0}  # keep the big one's file small


def event_lines(trace: Trace) -> list[str]:
    """The trace as comparable strings, floats never printed to 15 digits; events that are
    not job transitions (worker marks, pauses) say `mark` where src->dst would be."""
    return [f"{r.time:.3f} {r.job} {r.tube or '-'} "
            f"{f'{r.src}->{r.dst}' if r.dst else 'mark'} {r.cause} {r.actor or '-'}"
            for r in trace]


def golden(name: str) -> dict[str, Any]:
    """What the golden file for `name` should contain, computed now."""
    until = UNTIL.get(name)
    result = run_scenario(name, seed=SEED, until=until)
    return {"scenario": name, "seed": SEED, "until": result.until,
            "events": event_lines(result.trace)}


def path(name: str) -> Path:
    return GOLDEN / f"{name}.json"


def main(names: list[str]) -> int:
    GOLDEN.mkdir(exist_ok=True)
    for name in names or list(SCENARIOS):
        data = golden(name)
        path(name).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"{path(name)}: {len(data['events'])} events")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

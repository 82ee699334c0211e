"""`python -m stalksim handouts OUT/`: the printable handouts, as PDF and PNG.

- `lifecycle.pdf/.png`: the job life cycle (A4 landscape), its arrows derived from the engine
  by trying every command and event in every state (`stalksim.handouts.lifecycle`);
- `answer-key.pdf/.png`: every exercise's question, answer and why on one A4 page, from the
  exercise registry (`stalksim.handouts.answerkey`).

matplotlib is imported only here, not by `import stalksim`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

PNG_DPI = 200
"""Pixels per inch of the PNGs: sharp on a projector, and when printed."""


def save(fig: Any, out: Path, stem: str) -> list[Path]:
    """`fig` as OUT/stem.pdf and OUT/stem.png."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    paths = [out / f"{stem}.pdf", out / f"{stem}.png"]
    fig.savefig(paths[0])
    fig.savefig(paths[1], dpi=PNG_DPI)
    return paths


def write(out: Path) -> list[Path]:
    """Write both handouts into `out` (made if missing); the files written."""
    from stalksim.handouts import answerkey, diagram, lifecycle

    out.mkdir(parents=True, exist_ok=True)
    figure, _drawn = diagram.draw(lifecycle.derive())
    key, _size = answerkey.draw()
    return save(figure, out, "lifecycle") + save(key, out, "answer-key")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """`python -m stalksim handouts OUT/`: 0 when written, 1 when OUT cannot be written."""
    p = argparse.ArgumentParser(prog="stalksim handouts", description="Write the job "
                                "life-cycle diagram and the answer key (PDF and PNG).")
    p.add_argument("out", type=Path, metavar="OUT", help="the folder to write into")
    args = p.parse_args(argv)
    out = out or sys.stdout
    try:
        paths = write(args.out)
    except OSError as e:
        print(f"stalksim handouts: error: {e.filename or args.out}: {e.strerror or e}",
              file=sys.stderr)
        return 1
    for path in paths:
        print(path, file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

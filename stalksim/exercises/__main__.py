"""`python -m stalksim.exercises report SUBMISSIONS/`: the class's progress (see .report)."""

import sys

USAGE = "usage: python -m stalksim.exercises report SUBMISSIONS/ [--out DIR] [--timeout S]"


def main(argv: list[str]) -> int:
    if argv[:1] != ["report"]:
        print(USAGE, file=sys.stderr)
        return 2
    from stalksim.exercises.report import main as report

    return report(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

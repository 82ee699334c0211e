"""The learner's working copy of the lessons: `my-notebooks/`, made from `notebooks/`.

    python scripts/workcopy.py            # make or refresh my-notebooks/; prints its path

`scripts/lab.sh` runs this and opens JupyterLab on the copy, so a learner's edits and
autosaved runs never touch the tracked notebooks and `git pull` always works. The copy hides
itself from git (its own `.gitignore` says `*`).

First run: every file of notebooks/ is copied. Later runs, file by file:

- new in notebooks/ (or deleted by the learner): copied;
- changed in notebooks/, and the learner has not edited their copy (the same cells; outputs,
  that is runs, do not count): replaced by the new version;
- changed in notebooks/, and the learner has edited their copy: the copy is kept, never
  overwritten, and the new version is written beside it as `NAME (updated).ipynb`;
- unchanged in notebooks/, or gone from it: left as it is.

What each copy was made from is kept in `my-notebooks/.stalksim-copies.json`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebooks"
WORK = ROOT / "my-notebooks"
MANIFEST = ".stalksim-copies.json"
SKIP_DIRS = {".ipynb_checkpoints", "__pycache__"}


def work_hash(path: Path) -> str:
    """What the learner would have changed: a notebook's cells (type and source, not outputs
    or metadata), any other file's bytes. An unreadable notebook hashes as its bytes."""
    data = path.read_bytes()
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(data)["cells"]
            data = json.dumps([[c["cell_type"], "".join(c.get("source", ""))] for c in cells]
                              ).encode()
        except (ValueError, KeyError, TypeError):
            pass
    return hashlib.sha256(data).hexdigest()


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sources(folder: Path) -> list[Path]:
    """The files of `folder` to copy, as paths relative to it."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*")
                  if p.is_file() and not SKIP_DIRS & set(p.relative_to(folder).parts))


def offer_name(rel: Path, n: int) -> Path:
    """Where the new version of an edited file goes: `NAME (updated).ipynb`, then
    `NAME (updated 2).ipynb`, ... when the learner has edited that one too."""
    tail = "updated" if n == 1 else f"updated {n}"
    return rel.with_name(f"{rel.stem} ({tail}){rel.suffix}")


def offer(src: Path, rel: Path, work: Path, state: dict) -> str:
    """Put `src`, the new version of the learner's edited `rel`, beside it (never over a file
    the learner edited); a line saying where, or "" when it is there already."""
    n = 1
    while True:
        name = offer_name(rel, n)
        key, target = name.as_posix(), work / name
        ours = state.get(key)
        if not target.exists() or (ours and work_hash(target) == ours["work"]):
            break
        n += 1
    if target.exists() and file_hash(target) == file_hash(src):
        return ""
    shutil.copyfile(src, target)
    state[key] = {"file": file_hash(src), "work": work_hash(src)}
    return f"kept (you changed it); the new version is beside it: {key}"


def refresh(source: Path = SOURCE, work: Path = WORK) -> list[str]:
    """Make or refresh `work` from `source`; what was done, one line per file."""
    first = not work.exists()
    work.mkdir(parents=True, exist_ok=True)
    (work / ".gitignore").write_text("# the learner's working copy (scripts/workcopy.py)\n*\n")
    state_path = work / MANIFEST
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        state = {}
    done: list[str] = []
    for rel in sources(source):
        src, dest, key = source / rel, work / rel, rel.as_posix()
        new = {"file": file_hash(src), "work": work_hash(src)}
        base = state.get(key)
        if not dest.exists():
            how = "" if first else "new" if base is None else "copied again (it was deleted)"
        elif (base and new["work"] == base["work"]) or work_hash(dest) == new["work"]:
            state[key] = new  # no new cells to bring in
            continue
        elif base and work_hash(dest) == base["work"]:
            how = "updated to the new version (you had not changed it)"
        else:  # the learner's own version: keep it, put the new one beside it
            how = offer(src, rel, work, state)
            if how:
                done.append(f"{key}: {how}")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        state[key] = new
        if how:
            done.append(f"{key}: {how}")
    state_path.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    if first:
        done.insert(0, f"copied {len(state)} files of {source.name}/ into {work.name}/, your "
                       f"working copy (git does not track it)")
    return done


def main(argv: list[str]) -> int:
    work = Path(argv[0]) if argv else WORK
    for line in refresh(SOURCE, work):
        print(f"{work.name}: {line}", file=sys.stderr)
    print(work)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

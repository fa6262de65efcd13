"""Make ``docs/lecture.ipynb`` from ``docs/lecture.py`` and run it top to bottom in a Jupyter kernel.

    IMDB_LIGHTNING_DATA=../shared/data python scripts/build_lecture_notebook.py

``docs/lecture.py`` is the source (cells marked ``# %%``, prose cells ``# %% [markdown]``); the notebook is
written with the outputs of this run. ``--epochs N`` runs a shorter version (what the test does);
``--out PATH`` writes elsewhere. ``--check NOTEBOOK`` runs nothing: it says which cell of the notebook is not
the source's (exit 1), or nothing (exit 0). Needs the ``notebook`` extra (nbclient, nbformat, ipykernel).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "docs" / "lecture.py"


def cells_of(source: str) -> list[tuple[str, str]]:
    """``(kind, text)`` of each ``# %%`` cell: ``markdown`` (its ``# `` prefixes removed) or ``code``."""
    cells: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith("# %%"):
            cells.append(("markdown" if "[markdown]" in line else "code", []))
        elif cells:
            cells[-1][1].append(line)
    out = []
    for kind, lines in cells:
        if kind == "markdown":
            lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines]
        text = "\n".join(lines).strip("\n")
        if text:
            out.append((kind, text))
    return out


def notebook_of(source: str):
    import nbformat

    cells = [
        nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        for kind, text in cells_of(source)
    ]
    metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    return nbformat.v4.new_notebook(cells=cells, metadata=metadata)


def execute(notebook, *, epochs: int | None, cwd: Path, timeout: int = 1800):
    """Run every cell in a fresh kernel (in ``cwd``, where its run folders go); raises on the first error."""
    from nbclient import NotebookClient

    if epochs is not None:
        os.environ["IMDB_LIGHTNING_LECTURE_EPOCHS"] = str(epochs)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    return client.execute()


def stale_cells(notebook: dict, source: str) -> list[int]:
    """The cells (from 1) of a notebook's JSON that are not the source's, and one past the shorter of both
    when their counts differ."""
    made = cells_of(source)
    found = [
        (c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
        for c in notebook["cells"]
    ]
    stale = [i + 1 for i, (a, b) in enumerate(zip(found, made, strict=False)) if a != b]
    return stale + ([min(len(found), len(made)) + 1] if len(found) != len(made) else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, help="epochs per run (default: the lecture's 20)")
    parser.add_argument("--out", type=Path, default=SOURCE.with_suffix(".ipynb"))
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="where the runs' logs/ folder goes")
    parser.add_argument(
        "--check", type=Path, metavar="NOTEBOOK", help="only say whether NOTEBOOK is the source's"
    )
    args = parser.parse_args(argv)
    if args.check:
        import json

        stale = stale_cells(json.loads(args.check.read_text()), SOURCE.read_text())
        for cell in stale:
            print(f"{args.check}: cell {cell} is not {SOURCE.name}'s (rebuild it with this script)")
        return 1 if stale else 0
    try:
        import nbformat
    except ImportError:
        print(
            "error: needs nbclient, nbformat and ipykernel: pip install 'imdb-lightning[notebook]'",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    notebook = execute(notebook_of(SOURCE.read_text()), epochs=args.epochs, cwd=args.cwd)
    nbformat.write(notebook, args.out)
    print(f"{args.out}: {len(notebook.cells)} cells run in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

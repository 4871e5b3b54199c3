"""Print the foreign-code zoo's results as a Markdown table (for the README), from the zoo's cache.

    .venv/bin/python scripts/foreign_zoo_table.py          # what the cache holds for today's scripts and ganlint
    .venv/bin/python scripts/foreign_zoo_table.py --run    # train and judge what is missing first (minutes, cold)

One row per script x variant: the truth (by construction, confirmed from the samples in
tests/test_foreign_zoo.py), then per route (check on the checkpoint, diagnose on the stdout log, the
Monitor's folder) the label and exit code, marked right or wrong against the labels that route can show
(zoo.Cell.expected); then each route's accuracy, and how many broken runs passed (exit 0) anywhere.
The cache and the ganlint judged are those of tests/userland/foreign/zoo.py ($GANLINT_FOREIGN_ZOO_CACHE,
$GANLINT_FOREIGN_ZOO_GANLINT).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "userland" / "foreign"))
import zoo

EXIT_OF = {"stable": 0, "inconclusive": 3, **{label: 1 for label in zoo.FAILING}}


def verdict(cell: zoo.Cell, route: str, res: dict | None) -> tuple[str, bool | None]:
    """The cell's text and whether it is right: the truth itself (✅), or what the route can honestly say
    when it cannot show the truth (☑️, e.g. inconclusive from a log without samples), else wrong (❌)."""
    if res is None:
        return "not run", None
    ok = res["label"] in cell.expected[route] and res["exit"] == EXIT_OF.get(res["label"])
    mark = "❌" if not ok else "✅" if res["label"] == cell.truth else "☑️"
    return f"{mark} {res['label'] or '(none)'} ({res['exit']})", ok


def table(results: dict[str, dict]) -> str:
    head = ["script", "variant", "truth", *[f"{r} (expected)" for r in zoo.ROUTES]]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    right = {r: 0 for r in zoo.ROUTES}
    exact = {r: 0 for r in zoo.ROUTES}
    judged = {r: 0 for r in zoo.ROUTES}
    passed_broken = []
    for key, cell in zoo.CELLS.items():
        if key not in results:
            lines.append(f"| {cell.script} | {cell.variant} | {cell.truth} | " + " | ".join(["not trained"] * 3) + " |")
            continue
        row = [cell.script, cell.variant, cell.truth]
        for r in zoo.ROUTES:
            res = results[key].get(r)
            text, ok = verdict(cell, r, res)
            row.append(f"{text} ({' or '.join(cell.expected[r])})")
            if ok is not None:
                judged[r] += 1
                right[r] += ok
                exact[r] += bool(ok) and res["label"] == cell.truth
            if res is not None and cell.truth != "stable" and res["exit"] == 0:
                passed_broken.append(f"{key} {r}")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Right per route (✅ the truth, ☑️ what the route can honestly say without the evidence): "
                 + ", ".join(f"{r} {right[r]}/{judged[r]} ({exact[r]} the truth itself)" for r in zoo.ROUTES)
                 + f". Broken runs passing with exit 0: {len(passed_broken)}"
                 + (f" ({', '.join(passed_broken)})" if passed_broken else "") + ".")
    lines.append(f"(label (exit code); ganlint sources {zoo.ganlint_hash()}, scripts {zoo.scripts_hash()})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", action="store_true", help="train and judge the missing cells first")
    args = p.parse_args(argv)
    if args.run:
        zoo.run_zoo()
    print(table(zoo.cached_results()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

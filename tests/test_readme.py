"""The README's promises that can be checked mechanically (CI runs the README's own test command)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ganlint.data import DATASETS
from ganlint.schema import COLUMNS
from ganlint.training.losses import LOSSES

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"

pytestmark = pytest.mark.skipif(not README.is_file(), reason="no README.md in this checkout")


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def _code_blocks(section: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```[a-z]*\n(.*?)```", section, flags=re.S)]


@pytest.mark.skipif(not CI.is_file(), reason="no .ci/run in this checkout")
def test_ci_runs_the_readme_test_command_verbatim() -> None:
    """.ci/run's last command is the Quick start's second command, character for character."""
    blocks = _code_blocks(_section("Quick start"))
    assert len(blocks) >= 2
    readme_cmd = blocks[1]
    ci_lines = [line for line in CI.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert ci_lines[-1] == readme_cmd


def test_readme_telemetry_table_lists_exactly_the_columns() -> None:
    rows = [line for line in _section("Telemetry schema").splitlines() if line.startswith("| `")]
    documented = []
    for row in rows:
        first_cell = row.split("|")[1]
        documented += re.findall(r"`([a-z_0-9]+)`", first_cell)
    assert sorted(documented) == sorted(COLUMNS)


def test_readme_names_every_dataset_and_loss() -> None:
    text = README.read_text()
    for name in (*DATASETS.names(), *LOSSES.names()):
        assert f"`{name}`" in text, name


def test_first_quick_start_command_runs_the_quick_suite_on_cpu_with_one_seed() -> None:
    """The first command is ganlint's main job (the issue: not a single training run): `ganlint run` of the
    quick suite, one seed, on the CPU, with flags the parser accepts as written."""
    from ganlint.cli.parser import build_parser

    first = _code_blocks(_section("Quick start"))[0]
    install, _, invocation = first.rpartition("&& .venv/bin/ganlint ")
    assert install.startswith("python3 -m venv .venv && .venv/bin/pip install -e . "), first
    args = build_parser().parse_args(invocation.split())
    assert (args.command, args.paths, args.suite, args.seeds, args.device) == ("run", [], "quick", 1, "cpu")

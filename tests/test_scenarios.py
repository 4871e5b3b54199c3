"""Scenario files: every shipped scenario loads and validates; malformed files fail with the file's name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import ganlint.suite.scenarios as scenarios_mod
from ganlint.errors import ConfigError
from ganlint.suite.scenarios import (
    LABELS,
    SUITES,
    Scenario,
    default_scenarios_dir,
    load_scenario,
    load_scenarios,
)
from ganlint.training.config import TrainConfig

REPO_SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

GOOD = '''name = "{name}"
expect = "stable"
suites = ["quick"]
why = """A healthy baseline."""

[train]
dataset = "gaussian1d"
steps = 10
'''


def write(folder: Path, name: str, text: str | None = None) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(GOOD.format(name=name) if text is None else text)
    return path


# -- the shipped scenarios ----------------------------------------------------------------------------------------


def test_shipped_scenarios_load_and_validate() -> None:
    shipped = load_scenarios()
    assert len(shipped) >= 14
    for sc in shipped:
        assert isinstance(sc, Scenario)
        assert sc.path.parent == REPO_SCENARIOS
        assert sc.expect in LABELS and sc.suites and set(sc.suites) <= set(SUITES)
        assert len(sc.why) > 40, f"{sc.name}: say how the construction produces its label"
        sc.config(seed=0, device="cpu").resolve()


def test_shipped_names_are_unique_and_match_their_files() -> None:
    shipped = load_scenarios()
    names = [sc.name for sc in shipped]
    assert len(names) == len(set(names))
    assert all(sc.path.name == f"{sc.name}.toml" for sc in shipped)


def test_every_label_is_expected_by_some_quick_scenario() -> None:
    assert {sc.expect for sc in load_scenarios(suite="quick")} == set(LABELS)


def test_the_issues_named_scenarios_exist() -> None:
    by_name = {sc.name: sc.expect for sc in load_scenarios()}
    assert by_name["overpowered_discriminator"] == "vanishing-gradient"
    assert by_name["low_learning_rate"] == "stalled"
    assert by_name["collapsed_generator"] == "collapsed"


def test_healthy_baselines_cover_every_kind_of_data() -> None:
    stable = {sc.train["dataset"] for sc in load_scenarios() if sc.expect == "stable"}
    assert {"gaussian1d", "mnist", "reviews"} <= stable
    assert stable & {"ring8", "grid25"}


def test_scenarios_readme_lists_every_scenario() -> None:
    readme = (REPO_SCENARIOS / "README.md").read_text()
    missing = [sc.name for sc in load_scenarios() if f"`{sc.name}`" not in readme]
    assert not missing, f"scenarios/README.md does not describe {missing}"


def test_suite_filter() -> None:
    everything = load_scenarios()
    quick = load_scenarios(suite="quick")
    full = load_scenarios(suite="full")
    assert quick and full
    assert all("quick" in sc.suites for sc in quick)
    assert {sc.name for sc in quick} | {sc.name for sc in full} == {sc.name for sc in everything}


# -- the loader ---------------------------------------------------------------------------------------------------


def test_default_folder_is_found_from_any_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_scenarios_dir() == REPO_SCENARIOS


def test_default_folder_falls_back_to_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As if ganlint were installed in site-packages: no pyproject.toml beside the package.
    fake_pkg = tmp_path / "site-packages" / "ganlint"
    fake_pkg.mkdir(parents=True)
    (tmp_path / "site-packages" / "scenarios").mkdir()  # someone else's folder: must be ignored
    monkeypatch.setattr(scenarios_mod, "__file__", str(fake_pkg / "scenarios.py"))
    work = tmp_path / "work"
    (work / "scenarios").mkdir(parents=True)
    write(work / "scenarios", "mine")
    monkeypatch.chdir(work)
    assert default_scenarios_dir() == work / "scenarios"
    assert [sc.name for sc in load_scenarios()] == ["mine"]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no scenarios folder found"):
        load_scenarios()


def test_files_folders_and_lists(tmp_path: Path) -> None:
    a, b = write(tmp_path, "a"), write(tmp_path, "b")
    assert [sc.name for sc in load_scenarios(tmp_path)] == ["a", "b"]
    assert [sc.name for sc in load_scenarios(str(b))] == ["b"]
    assert [sc.name for sc in load_scenarios([b, a])] == ["b", "a"]
    assert [sc.name for sc in load_scenarios([tmp_path, a])] == ["a", "b"]  # a named twice: loaded once


def test_scenario_is_frozen_and_builds_its_config(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, "a"))
    assert sc == Scenario("a", "stable", ("quick",), "A healthy baseline.", {"dataset": "gaussian1d", "steps": 10},
                          tmp_path / "a.toml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.name = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        sc.train["steps"] = 5  # type: ignore[index]
    hash(sc)
    cfg = sc.config(seed=3, out="x")
    assert isinstance(cfg, TrainConfig) and cfg.seed == 3 and cfg.steps == 10 and cfg.out == "x"


def test_missing_paths_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_scenarios(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"no scenario files \(\*\.toml\)"):
        load_scenarios(tmp_path)
    with pytest.raises(ConfigError, match="unknown suite 'slow'; valid suites: quick, full"):
        load_scenarios(suite="slow")


def test_duplicate_names_name_both_files(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first, second = write(tmp_path / "one", "same"), write(tmp_path / "two", "same")
    with pytest.raises(ConfigError, match="'same' is used by both") as err:
        load_scenarios([tmp_path / "one", tmp_path / "two"])
    assert str(first) in str(err.value) and str(second) in str(err.value)


BAD = {
    "invalid TOML": ("name = ", "invalid TOML"),
    "unknown top-level key": ('extra = 1\n' + GOOD, "unknown key.s. extra"),
    "unknown top-level key next to train": (GOOD.replace("[train]", 'steps = 5\n[train]'), "unknown key.s. steps"),
    "missing key": (GOOD.replace('why = """A healthy baseline."""', ""), "missing key.s. why"),
    "bad label": (GOOD.replace('"stable"', '"healthy"'), "expect must be one of diverged, vanishing-gradient, stalled, oscillating, collapsed, still-weak, stable, inconclusive"),
    "empty suites": (GOOD.replace('["quick"]', "[]"), "suites must be a non-empty list"),
    "suites not a list": (GOOD.replace('["quick"]', '"quick"'), "suites must be a non-empty list"),
    "unknown suite": (GOOD.replace('["quick"]', '["quick", "nightly"]'), "unknown suite.s. nightly"),
    "empty why": (GOOD.replace('"""A healthy baseline."""', '" "'), "why must be a non-empty string"),
    "unknown train key": (GOOD + "stepz = 3\n", r"\[train\]: unknown config key.s. stepz"),
    "runner key": (GOOD + "seed = 3\n", r"\[train\] must not set seed"),
    "invalid train value": (GOOD + "lr_g = -1.0\n", r"\[train\]: lr_g must be a positive number"),
    "wrong type": (GOOD + 'beta1 = "0.5"\n', r"\[train\]: beta1 must be a number, got '0.5'"),
    "unknown dataset": (GOOD.replace('"gaussian1d"', '"cifar"'), r"\[train\]: unknown dataset 'cifar'"),
    "no train table": (GOOD.split("[train]")[0] + "train = 3\n", "train must be a table"),
    "name differs from file": (GOOD.replace('name = "{name}"', 'name = "other"'), "differs from the file's name"),
    "bad name": (GOOD.replace('name = "{name}"', 'name = "Bad Name"'), "name must be lower-case"),
}


@pytest.mark.parametrize("case", BAD)
def test_malformed_files_are_config_errors_naming_the_file(tmp_path: Path, case: str) -> None:
    text, message = BAD[case]
    path = tmp_path / "broken.toml"
    path.write_text(text.replace("{name}", "broken"))
    with pytest.raises(ConfigError, match=message) as err:
        load_scenarios(tmp_path)
    assert str(err.value).startswith(f"scenario {path}: ")

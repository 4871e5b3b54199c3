"""ganlint's pytest plugin (registered through the `pytest11` entry point): GAN health as a test.

    def test_generator_health(ganlint_check):
        result = ganlint_check("checkpoints/last.pt", generator="mypkg.models:Generator",
                               discriminator="mypkg.models:Discriminator", data="mnist")
        assert result.healthy

`result.healthy` is False when the gate fails the checkpoint, including when its verdict is inconclusive
(nothing decisive could be judged: the default gate never passes on no evidence); `result.exit_code` is
what `ganlint check` would exit with (0 passes, 1 fails, 3 inconclusive), so a test can tell them apart.

When such a test fails, its report gets a "ganlint" section: the gate's verdict, the label, why the gate
failed (for an inconclusive verdict: what to record to decide), every failing or warning finding and
what was skipped. Defaults come from the `--ganlint-*` options, then
`[tool.ganlint]` in pyproject.toml; arguments to `ganlint_check` win over both.

The plugin imports nothing heavy at start-up (torch loads only when a test calls the fixture), so it
costs nothing in projects that do not use it.
"""

from __future__ import annotations

from typing import Any

import pytest

RESULTS = pytest.StashKey[list]()


def _table() -> dict[str, tuple[str, type, str, str]]:
    """option -> (dest, type, help, check's option name), from ganlint.check.options' rows with a `pytest` help
    (a light module: no torch, no pandas)."""
    from ganlint.check.options import OPTIONS as ROWS

    return {row.pytest_flag: (row.pytest_dest, row.type, row.help_text(row.pytest), row.name)
            for row in ROWS if row.pytest is not None}


OPTIONS = _table()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ganlint", "ganlint: GAN health checks (the ganlint_check fixture)")
    for flag, (dest, typ, help_, _) in OPTIONS.items():
        group.addoption(flag, dest=dest, type=typ, default=None, help=help_)


def _option_defaults(config: pytest.Config) -> dict[str, Any]:
    """The --ganlint-* options given, by check's option name."""
    out = {}
    for dest, _, _, name in OPTIONS.values():
        v = config.getoption(dest, None)
        if v is not None:
            out[name] = v
    return out


def pytest_report_header(config: pytest.Config) -> str | None:
    from ganlint import __version__

    opts = _option_defaults(config)
    shown = ", ".join(f"{k}={v}" for k, v in opts.items()) or "defaults"
    return f"ganlint {__version__}: ganlint_check fixture ({shown})"


@pytest.fixture
def ganlint_check(request: pytest.FixtureRequest):
    """ganlint_check(checkpoint, **options) -> ganlint.check.CheckResult, options as for ganlint.check.check(),
    named as `ganlint check`'s flags (discriminator_file=, g_loss=, bn_mode=, d_output=, trust_checkpoint=; the
    older discriminator_path= is still taken)."""
    from ganlint.check import CheckOptions, check
    from ganlint.check.options import OPTION, spell_pytest
    from ganlint.gating import load_settings, merge, thresholds_from
    from ganlint.loaders.errors import respell

    settings = load_settings(start=request.config.rootpath)
    from_options = _option_defaults(request.config)
    base = merge(settings, from_options)
    results = request.node.stash.setdefault(RESULTS, [])

    def run(checkpoint, **options: Any):
        # [tool.ganlint]'s keys that are check()'s options, and the --ganlint-* options; the arguments win
        opts = {k: v for k, v in base.items() if k in OPTION and OPTION[k].api and OPTION[k].toml}
        opts.update(options)
        opts.setdefault("thresholds", thresholds_from(settings))
        unknown = sorted(set(opts) - set(CheckOptions.names()))
        if unknown:  # one line naming the arguments it takes
            raise TypeError(f"ganlint_check: unknown argument(s) {', '.join(unknown)}; it takes "
                            f"{', '.join(sorted(CheckOptions.names()))}")
        try:
            result = check(checkpoint, **opts)
        except Exception as e:  # a value from a --ganlint-* option is named as that option
            respell(e, spell_pytest(set(from_options) - set(options)))
            raise
        results.append(result)
        return result

    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    results = item.stash.get(RESULTS, None)
    if report.when == "call" and report.failed and results:
        from ganlint.gating.formats import gate_verdict  # torch is loaded by now: the fixture ran a check

        def head(r) -> str:
            verdict = gate_verdict(r.diagnosis, r.policy) if r.checked else "inconclusive: nothing could be checked"
            return f"gate {verdict} (exit {r.exit_code})"

        report.sections.append(("ganlint", "\n\n".join(f"{head(r)}: {r.explain()}" for r in results)))

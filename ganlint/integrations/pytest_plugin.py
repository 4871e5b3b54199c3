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
OPTIONS = {  # option -> (dest, type, help)
    "--ganlint-samples": ("ganlint_samples", int, "samples drawn from G per check [default: 10000]"),
    "--ganlint-data": ("ganlint_data", str, "real data for the checks: a dataset name, an image folder or a tensor file"),
    "--ganlint-fail-on": ("ganlint_fail_on", str, "what makes a check unhealthy, as ganlint check --fail-on (see its "
                          "--help) [default: every failure label and an inconclusive verdict, plus crashed checks]"),
    "--ganlint-device": ("ganlint_device", str, "device for the checks [default: cpu]"),
    "--ganlint-seed": ("ganlint_seed", int, "seed of the latent samples [default: 0]"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ganlint", "ganlint: GAN health checks (the ganlint_check fixture)")
    for flag, (dest, typ, help_) in OPTIONS.items():
        group.addoption(flag, dest=dest, type=typ, default=None, help=help_)


def _option_defaults(config: pytest.Config) -> dict[str, Any]:
    out = {}
    for dest, key in (("ganlint_samples", "samples"), ("ganlint_data", "data"), ("ganlint_fail_on", "fail_on"),
                      ("ganlint_device", "device"), ("ganlint_seed", "seed")):
        v = config.getoption(dest, None)
        if v is not None:
            out[key] = v
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
    from ganlint.check import check
    from ganlint.gating import load_settings, merge, thresholds_from

    settings = load_settings(start=request.config.rootpath)
    base = merge(settings, _option_defaults(request.config))
    results = request.node.stash.setdefault(RESULTS, [])

    def run(checkpoint, **options: Any):
        opts = {k: v for k, v in base.items() if k in _CHECK_ARGS}
        opts.update(options)
        opts.setdefault("thresholds", thresholds_from(settings))
        taken = _check_parameters()
        unknown = sorted(set(opts) - taken)
        if unknown:  # one line naming the flag-named arguments it takes
            raise TypeError(f"ganlint_check: unknown argument(s) {', '.join(unknown)}; it takes {', '.join(sorted(taken))}")
        result = check(checkpoint, **opts)
        results.append(result)
        return result

    return run


# The [tool.ganlint] keys the fixture takes as defaults (the fixture's own arguments are ganlint.check.check's,
# named as the CLI's flags: discriminator_file, trust_checkpoint, g_loss, bn_mode, d_output, history, ...).
_CHECK_ARGS = ("generator", "discriminator", "kwargs", "z_dim", "z_dist", "num_classes", "data", "samples", "seed",
               "device", "fail_on", "g_loss", "bn_mode")


def _check_parameters() -> set[str]:
    import inspect

    from ganlint.check import check

    return set(inspect.signature(check).parameters) - {"checkpoint"}


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

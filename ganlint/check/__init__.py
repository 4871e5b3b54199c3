"""`ganlint check`: is a user's own GAN checkpoint healthy? A Diagnosis, like `ganlint diagnose`, from
what the checkpoint allows.

    import ganlint.check
    result = ganlint.check.check("ckpt.pt", generator="mypkg.models:Generator",
                                 discriminator="mypkg.models:Discriminator", data="mnist")
    result.healthy, result.diagnosis.label, result.skipped, result.exit_code   # 0, 1 or 3, as the CLI exits

    options.py     the options table (CheckOptions, the flags, the pytest options, [tool.ganlint] keys)
    run.py         check(): load, sample, measure, judge
    result.py      CheckResult
    reference.py   the real data; snapshot.py the checks of one checkpoint; history.py those over time;
    batchnorm.py   BatchNorm's mode

Nothing heavy is imported here: the names below load their module on first use (PEP 562), so the pytest
plugin and the settings reader can read ganlint.check.options without loading torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganlint import lazy

# The public names: name -> module that defines it.
_PUBLIC = {
    "check": "ganlint.check.run",
    "sample_metrics": "ganlint.check.run",
    "latent_inputs": "ganlint.check.run",
    "LOSS_D_OUTPUT": "ganlint.check.run",
    "CheckResult": "ganlint.check.result",
    "CheckOptions": "ganlint.check.options",
    "check_options": "ganlint.check.options",
    "OPTION_RANGES": "ganlint.check.options",
    "DEFAULT_SAMPLES": "ganlint.check.options",
    "MIN_SAMPLES": "ganlint.check.options",
    "MAX_SAMPLES": "ganlint.check.options",
}
__all__ = [
    "DEFAULT_SAMPLES",
    "LOSS_D_OUTPUT",
    "MAX_SAMPLES",
    "MIN_SAMPLES",
    "OPTION_RANGES",
    "CheckOptions",
    "CheckResult",
    "check",
    "check_options",
    "latent_inputs",
    "sample_metrics",
]  # == the keys of _PUBLIC


__getattr__, __dir__ = lazy.attach(__name__, _PUBLIC)


if TYPE_CHECKING:  # what type checkers and IDEs see
    from ganlint.check.options import (
        DEFAULT_SAMPLES,
        MAX_SAMPLES,
        MIN_SAMPLES,
        OPTION_RANGES,
        CheckOptions,
        check_options,
    )
    from ganlint.check.result import CheckResult
    from ganlint.check.run import LOSS_D_OUTPUT, check, latent_inputs, sample_metrics

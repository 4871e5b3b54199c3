"""`--fail-on`: which diagnoses fail a CI gate.

    policy = parse_fail_on("collapsed,vanishing-gradient")
    if policy.fails(diagnosis):
        print("\\n".join(policy.reasons(diagnosis)), file=sys.stderr)

A gate looks at two things, kept apart because they answer different questions:

- labels: *what is wrong with the run* (the engine's verdict). A label fails the gate when it is the
  primary label or one of `other_labels` (a run labelled vanishing-gradient whose samples have also
  collapsed fails `--fail-on collapsed`: the user asked whether the run collapsed, and it did).
- finding statuses: *how strict to be about the evidence*. `warn` and `fail` let a gate trip on a
  single check before the engine would name a label; `error` (a check that crashed) means the verdict
  rests on less evidence than it claims, which a gate must not mistake for a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ganlint.diagnostics.findings import ERROR, FAIL, LABELS, WARN, Diagnosis
from ganlint.errors import ConfigError

# Every label but stable: stable is the passing verdict, so it can never fail a gate.
FAILING_LABELS = frozenset(label for label in LABELS if label != "stable")
# The statuses a gate can trip on; pass and not-assessable never do.
GATE_STATUSES = (WARN, FAIL, ERROR)
# The items --fail-on accepts besides the labels (in the order they are documented and listed).
KEYWORDS = ("any", "none", *GATE_STATUSES)


@dataclass(frozen=True)
class FailPolicy:
    """What fails the gate.

    Attributes:
        labels: labels that fail the gate when the run has them (primary or among other_labels); a
            subset of every label but stable.
        statuses: finding statuses that fail the gate when any finding has one; a subset of
            warn, fail, error.
    """

    labels: frozenset[str]
    statuses: frozenset[str]

    def __post_init__(self) -> None:
        # Accept any iterable (a set, a list) but keep the policy hashable and immutable.
        object.__setattr__(self, "labels", frozenset(self.labels))
        object.__setattr__(self, "statuses", frozenset(self.statuses))
        bad = sorted(set(self.labels) - FAILING_LABELS) + sorted(set(self.statuses) - set(GATE_STATUSES))
        if bad:
            raise ConfigError(f"a FailPolicy takes labels from {', '.join(sorted(FAILING_LABELS))} and statuses "
                              f"from {', '.join(GATE_STATUSES)}; got {', '.join(map(repr, bad))}")

    def fails(self, d: Diagnosis) -> bool:
        """True when the diagnosis fails the gate (it has at least one reason to)."""
        return bool(self.reasons(d))

    def reasons(self, d: Diagnosis) -> list[str]:
        """One line per reason the gate fails, for messages; empty when it passes.

        The labels come first (the primary one, then other_labels that the gate includes), then each
        finding whose status the gate includes, in the diagnosis's order.
        """
        out = []
        if d.label in self.labels:
            onset = f", onset at step {d.onset_step}" if d.onset_step is not None else ""
            out.append(f"label is {d.label} (confidence {d.confidence:.2f}{onset})")
        out.extend(f"{label} also holds" for label in d.other_labels if label in self.labels and label != d.label)
        for f in d.findings:
            if f.status in self.statuses:
                value = f" [{_num(f.value)} vs {_num(f.threshold)}]" if f.value is not None else ""
                out.append(f"{f.status} {f.check}: {f.message}{value}")
        return out

    def to_spec(self) -> str:
        """The canonical --fail-on string; parse_fail_on(p.to_spec()) == p (the default is 'any,error')."""
        if not self.labels and not self.statuses:
            return "none"
        labels = ["any"] if self.labels == FAILING_LABELS else [x for x in LABELS if x in self.labels]
        return ",".join(labels + [s for s in GATE_STATUSES if s in self.statuses])


DEFAULT_POLICY = FailPolicy(labels=FAILING_LABELS, statuses=frozenset({ERROR}))


def parse_fail_on(spec: str | Sequence[str] | None) -> FailPolicy:
    """The FailPolicy for a --fail-on value.

    `spec` is None (the default), a comma-separated string, or a list of such strings (a TOML list, or a
    repeated flag). Items are trimmed and case-insensitive; each one adds to what fails the gate:

    - None: every label but stable fails, and so does a crashed check (status error). Same as
      "any,error".
    - a label (`diverged`, `vanishing-gradient`, `stalled`, `oscillating`, `collapsed`): the run fails
      when it has that label, as its primary label or among other_labels. Labels alone fail on those
      labels only: "collapsed" passes a run whose checks crashed; write "collapsed,error" to fail on
      crashes too. `stable` is refused (it is the passing verdict).
    - `any`: every label but stable.
    - `warn`: stricter than the default: any finding with status warn or fail fails, and so does every
      label but stable and a crashed check ("warn" = "any,warn,fail,error").
    - `fail`: any finding with status fail fails (a single failing check, even one the engine did not
      turn into a label), plus every label but stable and a crashed check ("fail" = "any,fail,error").
    - `error`: a crashed check fails; adds no labels ("error" alone fails only on crashed checks).
    - `none`: nothing fails (report only). It must stand alone.

    Examples: "collapsed,vanishing-gradient" fails only on those two labels; "warn" is the default plus
    warnings; "collapsed,warn" is the same as "warn" (warn already includes every label).

    Raises:
        ConfigError: an empty spec, an unknown item (the message lists the valid ones), `stable`, or
            `none` combined with anything else.
    """
    if spec is None:
        return DEFAULT_POLICY
    parts = [spec] if isinstance(spec, str) else list(spec)
    if not all(isinstance(p, str) for p in parts):
        raise ConfigError(f"--fail-on takes a string or a list of strings, got {spec!r}")
    items = [item.strip().lower() for part in parts for item in part.split(",") if item.strip()]
    valid = [*KEYWORDS, *(x for x in LABELS if x != "stable")]
    if not items:
        raise ConfigError(f"--fail-on is empty; give one or more of: {', '.join(valid)}")
    unknown = [item for item in items if item not in valid]
    if unknown:
        hint = " (stable is the passing label; it cannot fail the gate)" if "stable" in unknown else ""
        raise ConfigError(f"unknown --fail-on item(s) {', '.join(map(repr, unknown))}{hint}; "
                          f"valid: {', '.join(valid)}")
    if "none" in items:
        if set(items) != {"none"}:
            raise ConfigError(f"--fail-on none (report only) cannot be combined with other items, got {spec!r}")
        return FailPolicy(frozenset(), frozenset())
    labels: set[str] = {x for x in items if x in FAILING_LABELS}
    statuses: set[str] = set()
    if "any" in items:
        labels |= FAILING_LABELS
    if "warn" in items:
        statuses |= {WARN, FAIL, ERROR}
        labels |= FAILING_LABELS
    if "fail" in items:
        statuses |= {FAIL, ERROR}
        labels |= FAILING_LABELS
    if "error" in items:
        statuses.add(ERROR)
    return FailPolicy(frozenset(labels), frozenset(statuses))


def _num(v: float | None) -> str:
    return "nan" if v is None else f"{v:.4g}"

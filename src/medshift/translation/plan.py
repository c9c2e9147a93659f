"""Which (tau, source, target) translations a run makes, from the classes' domains."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class PlannedPair:
    """One ordered class pair at one tau."""

    tau: float
    source: str
    target: str


def translation_plan(domains: Mapping[str, str], taus: Sequence[float],
                     cross_domain_taus: Sequence[float]) -> list[PlannedPair]:
    """Every ordered pair of distinct classes at each of ``taus``, and the pairs whose
    domains differ also at each of ``cross_domain_taus``; sorted, without duplicates.

    Args:
        domains: class id -> domain (e.g. "synthetic", "real"), in label order.
    """
    pairs = {PlannedPair(round(float(tau), 4), s, t)
             for s in domains for t in domains if s != t
             for tau in (*taus, *(cross_domain_taus if domains[s] != domains[t] else ()))}
    return sorted(pairs)


def baseline_plan(plan: Sequence[PlannedPair], domains: Mapping[str, str],
                  taus: Sequence[float]) -> list[PlannedPair]:
    """The pairs of ``plan`` the SDEdit baseline runs: across domains, at each of ``taus``
    (the comparisons the evaluation reports), so the baseline costs a fraction of the plan.
    """
    return [p for p in plan if domains[p.source] != domains[p.target]
            and any(abs(p.tau - t) < 1e-9 for t in taus)]

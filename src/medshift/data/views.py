"""Map C-arm positioner angles to the nearest named view (SIMULATOR.md §2.3)."""

from __future__ import annotations

from medshift.acquisition import VIEW_TABLE

TOLERANCE_DEG = 10.0


def nominal_views() -> dict[str, list[tuple[float, float]]]:
    """Centre angles (primary, secondary) of every view, both sides for mirrored ones."""
    out = {}
    for name, ((p_lo, p_hi), (s_lo, s_hi), mirror) in VIEW_TABLE.items():
        primary, secondary = (p_lo + p_hi) / 2, (s_lo + s_hi) / 2
        out[name] = [(primary, secondary)] + ([(-primary, secondary)] if mirror else [])
    return out


def view_from_angles(primary: str, secondary: str, tolerance: float = TOLERANCE_DEG) -> str:
    """Nearest view id within ``tolerance`` degrees (max-norm), else "UNKNOWN"."""
    try:
        p, s = float(primary), float(secondary)
    except ValueError:
        return "UNKNOWN"
    best, best_err = "UNKNOWN", tolerance
    for name, centres in nominal_views().items():
        for cp, cs in centres:
            err = max(abs(p - cp), abs(s - cs))
            if err <= best_err:
                best, best_err = name, err
    return best

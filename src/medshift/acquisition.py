"""Names every tier shares for an acquisition: the C-arm views and the benchmark's classes.

The view table is what ingestion maps positioner angles with (any DICOM source) and what
the simulator samples geometry from; config validates ``params.simulate`` against both
names. It sits at the bottom so ingestion, config and the simulator need not import each
other (SIMULATOR.md §2.3).
"""

from __future__ import annotations

# view id -> (primary range deg, secondary range deg, mirror primary at random)
VIEW_TABLE: dict[str, tuple[tuple[float, float], tuple[float, float], bool]] = {
    "PA": ((0, 0), (0, 0), False),
    "CALDWELL": ((0, 0), (-20, -15), False),
    "TOWNE": ((0, 0), (25, 35), False),
    "LAT_R": ((-90, -90), (0, 0), False),
    "LAT_L": ((90, 90), (0, 0), False),
    "TRANSORB_OBL": ((25, 35), (-20, -15), True),
    "OBL45": ((45, 45), (0, 0), True),
}

# the X-DigiSkull (domain, dose) classes the simulator has presets for, in label order
BENCHMARK_CLASSES: tuple[str, ...] = (
    "syn_low", "syn_high", "real_low", "real_normal", "real_exposure")

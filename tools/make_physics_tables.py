"""Generate ``src/medshift/simulate/physics_tables.npz`` (attenuation and spectra tables).

Run once, offline, with the optional ``[tables]`` extra (``xraydb``, ``spekpy``); the small
result is committed so the simulator itself needs neither package (SIMULATOR.md §1.6, §3.2).

    python tools/make_physics_tables.py [--out PATH]

Contents (energies are 1-keV bin centres, keV; mu in cm^-1):
- ``energy_kev`` (E,), ``materials`` (M,), ``mu`` (M, E)
- ``kvp`` (K,), ``cu_mm`` (F,), ``fluence`` (K, F, E): photons cm^-2 mAs^-1 per bin at 1 m,
  tube with 12 deg W anode, 2.5 mm Al inherent + 1 mm Al added + ``cu_mm`` copper
- ``kerma_ugy_per_mas`` (K, F): air kerma at 1 m
- ``photons_per_mm2_per_ngy`` (K, F): fluence per air kerma behind 15 cm soft tissue + 1.4 cm bone
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

# ICRU-44 mass fractions (SIMULATOR.md §1.6) and densities (g/cm^3).
COMPOSITIONS: dict[str, tuple[dict[str, float], float]] = {
    "cortical": (
        {"H": .034, "C": .155, "N": .042, "O": .435, "Na": .001, "Mg": .002, "P": .103,
         "S": .003, "Ca": .225}, 1.92),
    "brain": (
        {"H": .107, "C": .145, "N": .022, "O": .712, "Na": .002, "P": .004, "S": .002,
         "Cl": .003, "K": .003}, 1.04),
    "soft": (
        {"H": .102, "C": .143, "N": .034, "O": .708, "Na": .002, "P": .003, "S": .003,
         "Cl": .002, "K": .003}, 1.06),
    "fat": ({"H": .114, "C": .598, "N": .007, "O": .278, "Na": .001, "S": .001, "Cl": .001}, 0.95),
    "blood": (
        {"H": .102, "C": .110, "N": .033, "O": .745, "Na": .001, "P": .001, "S": .002,
         "Cl": .003, "K": .002, "Fe": .001}, 1.06),
    "water": ({"H": 0.111894, "O": 0.888106}, 1.00),
    "air": ({"N": 0.755, "O": 0.232, "Ar": 0.013}, 0.0012),
    "enamel": ({"H": .002, "O": .414, "P": .185, "Ca": .399}, 2.9),
    "dentin": ({"H": .002, "O": .414, "P": .185, "Ca": .399}, 2.1),
    "dense": (
        {"H": .034, "C": .155, "N": .042, "O": .435, "Na": .001, "Mg": .002, "P": .103,
         "S": .003, "Ca": .225}, 2.0),
    "aluminium": ({"Al": 1.0}, 2.699),
    "metal": ({"Pt": 0.9, "Ir": 0.1}, 21.5),
    "csi": ({"Cs": 0.5115, "I": 0.4885}, 4.51),
}
KVP = np.arange(60, 101, 5)
CU_MM = np.array([0.0, 0.1, 0.2, 0.4, 0.9])
ENERGY_KEV = np.arange(15, 100) + 0.5


def mass_mu(fractions: dict[str, float], energy_kev: np.ndarray) -> np.ndarray:
    """Mass attenuation (cm^2/g) of a mixture, Elam cross sections incl. coherent."""
    import xraydb

    return sum(w * xraydb.mu_elam(el, energy_kev * 1e3) for el, w in fractions.items())


def attenuation_table() -> tuple[list[str], np.ndarray]:
    """Linear attenuation (cm^-1) for every material; derived mixtures follow SIMULATOR.md."""
    mu = {name: mass_mu(frac, ENERGY_KEV) * rho for name, (frac, rho) in COMPOSITIONS.items()}
    mu["csf"] = mu["water"] * 1.007
    mu["diploe"] = 0.5 * mu["cortical"] + 0.5 * mu["soft"]  # 50/50 by volume
    iodine = mass_mu({"I": 1.0}, ENERGY_KEV)
    mu["iodine_blood"] = mu["blood"] + 0.1 * iodine  # 100 mg I / ml
    names = sorted(mu)
    return names, np.stack([mu[n] for n in names]).astype(np.float64)


def spectra() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fluence per bin (K, F, E), kerma per mAs (K, F) and photons/mm^2/nGy behind a head."""
    import spekpy

    flu = np.zeros((KVP.size, CU_MM.size, ENERGY_KEV.size))
    kerma = np.zeros((KVP.size, CU_MM.size))
    per_ngy = np.zeros_like(kerma)
    for i, kvp in enumerate(KVP):
        for j, cu in enumerate(CU_MM):
            s = spekpy.Spek(kvp=float(kvp), th=12, dk=1)
            s.filter("Al", 3.5)
            if cu > 0:
                s.filter("Cu", float(cu))
            k, phi = s.get_spectrum()
            flu[i, j] = np.interp(ENERGY_KEV, k, phi, left=0.0, right=0.0)
            kerma[i, j] = s.get_kerma()
            s.filter("Tissue, Soft (ICRP)", 150.0)
            s.filter("Bone, Cortical (ICRP)", 14.0)
            per_ngy[i, j] = s.get_flu() / s.get_kerma() / 100.0 / 1000.0
    return flu, kerma, per_ngy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1] / "src/medshift/simulate/physics_tables.npz"
    parser.add_argument("--out", type=Path, default=default)
    args = parser.parse_args()
    names, mu = attenuation_table()
    flu, kerma, per_ngy = spectra()
    np.savez_compressed(
        args.out, energy_kev=ENERGY_KEV, materials=np.array(names), mu=mu.astype(np.float32),
        kvp=KVP.astype(np.float32), cu_mm=CU_MM, fluence=flu.astype(np.float32),
        kerma_ugy_per_mas=kerma, photons_per_mm2_per_ngy=per_ngy,
    )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()

"""tau and guidance per direction on the validation split (never the test split).

    python -m benchmarks.sweep_translate_val [--model models/medshift] [--taus 0.2 0.3]
        [--guidances 1.5 2.0] [--directions 'syn->real' 'real->syn'] [--nfe 12] [--redo]

For each (tau, guidance) setting and direction (syn->real: the six pairs; real->syn: the
six pairs back; syn->syn and real->real: the dose-only pairs inside a domain), translates
every val image to the aligned target class and reports the share the pipeline's
classifier assigns to the exact target class, SSIM/PSNR (dB) to the aligned true target
(same subject and view) and SSIM to the source, in the central 80x80 of 128 px, where no
collimator reaches. Guided settings get twice the NFE (default 12 and 24), so every
setting takes the same midpoint steps a leg (three by default). An ``identity`` row per
direction scores the source itself.

Rows merge into benchmarks/results/translate_val_sweep.json keyed by (method, direction,
tau, guidance, nfe): a setting already there is skipped unless --redo.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch
from pipeline.common import load_sets

from medshift.evaluation.structure import structure_scores
from medshift.models.classifier import load_classifier, predict
from medshift.models.export import load_medshift
from medshift.translation.translate import TranslationRequest, translate

SYN, REAL = ("syn_low", "syn_high"), ("real_low", "real_normal", "real_exposure")
DIRECTIONS = {
    "syn->real": tuple(itertools.product(SYN, REAL)),
    "real->syn": tuple(itertools.product(REAL, SYN)),
    "syn->syn": tuple(itertools.permutations(SYN, 2)),
    "real->real": tuple(itertools.permutations(REAL, 2)),
}
CENTRE = slice(24, 104)


def _key(row: dict) -> tuple:
    return (row.get("method", "medshift"), row["direction"], row.get("tau"),
            row.get("guidance"), row.get("nfe"))


def _aligned(rows, key: np.ndarray, source: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the source images that have a true target, and of those targets."""
    targets = rows[rows.class_name == target]
    where = dict(zip(key[targets.index], targets.index, strict=True))
    src = np.array([i for i in rows.index[rows.class_name == source] if key[i] in where])
    return src, np.array([where[key[i]] for i in src])


def score(model, classifier, classes, val, direction: str, request: TranslationRequest | None
          ) -> dict:
    """One sweep row: ``request`` None scores identity (the source as its own output)."""
    rows = val.rows.reset_index(drop=True)
    key = (rows.subject_id + "/" + rows.view).to_numpy()
    start, hits, ssim, psnr, ssim_src = time.perf_counter(), [], [], [], []
    for source, target in DIRECTIONS[direction]:
        src, tgt = _aligned(rows, key, source, target)
        x = val.images[src]
        out = x if request is None else translate(model, x, source, target, request).images
        hits.append(predict(classifier, out) == classes.index(target))
        s = structure_scores(out[..., CENTRE, CENTRE], val.images[tgt][..., CENTRE, CENTRE])
        ssim.append(s["ssim"])
        psnr.append(s["psnr"])
        ssim_src.append(structure_scores(out[..., CENTRE, CENTRE],
                                         x[..., CENTRE, CENTRE])["ssim"])
    row = {"method": "identity" if request is None else "medshift", "direction": direction}
    if request is not None:
        row |= {"tau": request.tau, "guidance": request.guidance, "nfe": request.nfe}
    return row | {
        "class_hit": round(float(np.concatenate(hits).mean()), 4),
        "ssim_target_centre": round(float(np.concatenate(ssim).mean()), 4),
        "psnr_target_centre": round(float(np.concatenate(psnr).mean()), 3),
        "ssim_source_centre": round(float(np.concatenate(ssim_src).mean()), 4),
        "images": int(sum(len(h) for h in hits)),
        "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=Path("models/medshift"))
    p.add_argument("--classifier", type=Path, default=Path("models/classifier"))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/translate_val_sweep.json"))
    p.add_argument("--taus", type=float, nargs="+", default=[0.2, 0.3, 0.45, 0.6])
    p.add_argument("--guidances", type=float, nargs="+", default=[1.0, 1.5, 2.0])
    p.add_argument("--directions", nargs="+", choices=list(DIRECTIONS),
                   default=list(DIRECTIONS))
    p.add_argument("--nfe", type=int, default=12,
                   help="NFE of unguided settings; guided ones get twice as many")
    p.add_argument("--redo", action="store_true", help="re-measure settings already stored")
    args = p.parse_args()
    model = load_medshift(args.model, "cpu")
    classifier, meta = load_classifier(args.classifier)
    (val,) = load_sets(Path("data/interim/manifest.parquet"),
                       Path("data/processed/splits.parquet"), Path("data/interim/images"), "val")
    stored = json.loads(args.out.read_text())["results"] if args.out.is_file() else []
    stored = [{"method": "medshift", **r} for r in stored]  # rows before identity existed
    results = {_key(r): r for r in stored}
    requests = [None] + [TranslationRequest(tau=t, guidance=g,
                                            nfe=args.nfe if g == 1.0 else 2 * args.nfe)
                         for t, g in itertools.product(args.taus, args.guidances)]
    for request, direction in itertools.product(requests, args.directions):
        row = {"method": "identity", "direction": direction} if request is None else {
            "direction": direction, "tau": request.tau, "guidance": request.guidance,
            "nfe": request.nfe}
        if _key(row) in results and not args.redo:
            continue
        row = score(model, classifier, list(meta["classes"]), val, direction, request)
        print(json.dumps(row), flush=True)
        results[_key(row)] = row
        tmp = args.out.with_name(f".{args.out.name}.tmp")  # after each row: a kill loses one
        tmp.write_text(json.dumps({"split": "val", "results": list(results.values())},
                                  indent=1) + "\n")
        tmp.replace(args.out)


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()

"""tau and guidance per direction on the validation split (never the test split).

    python benchmarks/sweep_translate_val.py [--model models/medshift]

For each (tau, guidance) setting and direction (syn->real: the six pairs; real->syn: the
six pairs back), translates every val image to the aligned target class and reports the
share the pipeline's classifier assigns to the exact target class, and SSIM/PSNR (dB) to
the aligned true target (same subject and view) in the central 80x80 of 128 px, where no
collimator reaches. Guided settings get twice the NFE, so every setting takes three
midpoint steps a leg. Writes benchmarks/results/translate_val_sweep.json.
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
SETTINGS = ((0.45, 1.0), (0.45, 1.5), (0.45, 2.0), (0.3, 1.0), (0.6, 1.0), (0.3, 1.5))
CENTRE = slice(24, 104)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=Path("models/medshift"))
    p.add_argument("--classifier", type=Path, default=Path("models/classifier"))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/translate_val_sweep.json"))
    args = p.parse_args()
    model = load_medshift(args.model, "cpu")
    classifier, meta = load_classifier(args.classifier)
    (val,) = load_sets(Path("data/interim/manifest.parquet"),
                       Path("data/processed/splits.parquet"), Path("data/interim/images"), "val")
    rows = val.rows.reset_index(drop=True)
    key = (rows.subject_id + "/" + rows.view).to_numpy()
    results = []
    for tau, guidance in SETTINGS:
        nfe = 12 if guidance == 1.0 else 24
        for direction, pairs in (("syn->real", itertools.product(SYN, REAL)),
                                 ("real->syn", itertools.product(REAL, SYN))):
            start, hits, ssim, psnr = time.perf_counter(), [], [], []
            for source, target in pairs:
                targets = rows[rows.class_name == target]
                where = dict(zip(key[targets.index], targets.index, strict=True))
                src = np.array([i for i in rows.index[rows.class_name == source]
                                if key[i] in where])
                tgt = np.array([where[key[i]] for i in src])
                out = translate(model, val.images[src], source, target,
                                TranslationRequest(tau=tau, guidance=guidance, nfe=nfe)).images
                hits.append(predict(classifier, out) == meta["classes"].index(target))
                truth = val.images[tgt]
                s = structure_scores(out[..., CENTRE, CENTRE], truth[..., CENTRE, CENTRE])
                ssim.append(s["ssim"])
                psnr.append(s["psnr"])
            row = {"direction": direction, "tau": tau, "guidance": guidance, "nfe": nfe,
                   "class_hit": round(float(np.concatenate(hits).mean()), 4),
                   "ssim_target_centre": round(float(np.concatenate(ssim).mean()), 4),
                   "psnr_target_centre": round(float(np.concatenate(psnr).mean()), 3),
                   "images": int(sum(len(h) for h in hits)),
                   "seconds": round(time.perf_counter() - start, 1)}
            print(json.dumps(row), flush=True)
            results.append(row)
    args.out.write_text(json.dumps({"split": "val", "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()

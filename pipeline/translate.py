"""DVC stage `translate`: the test split translated for every planned pair, tau and method.

    python -m pipeline.translate [paths...]

MedShift inverts each source class's images once per tau and generates every target from
that shared latent; SDEdit noises them for the cross-domain pairs at
params.translate.sdedit_taus. Writes the translations store
(``medshift.translation.store``) and throughput in reports/translate.json.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from medshift.config.base import load_section
from medshift.config.ingest import IngestConfig
from medshift.config.translate import TranslateConfig
from medshift.io import write_json
from medshift.models.export import MedShiftModel, load_medshift
from medshift.translation.plan import PlannedPair, baseline_plan, translation_plan
from medshift.translation.sdedit import sdedit
from medshift.translation.store import group_file, write_group, write_index
from medshift.translation.translate import TranslationRequest, translate_to_targets
from pipeline.common import load_sets, run_stage, stage_parser


def parse() -> argparse.Namespace:
    p = stage_parser(__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=Path("models/medshift"))
    p.add_argument("--out", type=Path, default=Path("data/processed/translations"))
    p.add_argument("--report", type=Path, default=Path("reports/translate.json"))
    return p.parse_args()


def _run(method: str, model: MedShiftModel, images: np.ndarray, label: int,
         targets: list[int], request: TranslationRequest, keys: list[str]
         ) -> tuple[dict[int, np.ndarray], int]:
    if method == "medshift":
        return translate_to_targets(model, images, [label] * len(images), targets, request,
                                    keys)
    return sdedit(model, images, targets, request, keys)


def main() -> None:
    args = parse()
    cfg = TranslateConfig.from_params(load_section(args.params, "translate"))
    rules = IngestConfig.from_params(load_section(args.params, "ingest")).classes
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_medshift(args.model, device)
    if model.classes != tuple(r.id for r in rules):
        raise SystemExit(f"translate: {args.model} was trained on {list(model.classes)}, "
                         f"params.ingest.classes lists {[r.id for r in rules]}")
    (data,) = load_sets(args.manifest, args.splits, args.images, cfg.split)
    domains = {r.id: r.domain for r in rules}
    plan = translation_plan(domains, cfg.taus, cfg.cross_domain_taus)
    plans = {"medshift": plan, "sdedit": baseline_plan(plan, domains, cfg.sdedit_taus)}
    groups: dict[tuple[str, float, str], list[PlannedPair]] = defaultdict(list)
    for method in cfg.methods:
        for pair in plans[method]:
            groups[(method, pair.tau, pair.source)].append(pair)
    rows, seconds = [], defaultdict(float)
    bar = tqdm(total=sum(map(len, groups.values())), desc="translate", unit="pair",
               mininterval=1.0)
    for (method, tau, source), pairs in groups.items():
        chosen = data.labels == model.label(source)
        images, keys = data.images[chosen], data.rows.loc[chosen, "image_id"].tolist()
        request = TranslationRequest(tau=tau, nfe=cfg.nfe, solver=cfg.solver,
                                     guidance=cfg.guidance, seed=cfg.seed,
                                     batch_size=cfg.batch_size, bf16=cfg.bf16)
        targets = [model.label(p.target) for p in pairs]
        start = time.perf_counter()
        outs, nfe = _run(method, model, images, model.label(source), targets, request, keys)
        elapsed = time.perf_counter() - start
        seconds[method] += elapsed
        for pair, target in zip(pairs, targets, strict=True):
            file = group_file(method, tau, source, pair.target)
            write_group(args.out, file, outs[target])
            rows += [{"image_id": key, "source": source, "target": pair.target,
                      "method": method, "tau": tau, "solver": cfg.solver, "nfe": nfe,
                      "guidance": cfg.guidance,
                      "seconds": elapsed / (len(keys) * len(pairs)), "file": file,
                      "row": r} for r, key in enumerate(keys)]
        bar.update(len(pairs))
    bar.close()
    index = write_index(args.out, rows)
    counts = index.groupby("method").size()
    report = {"device": str(device), "threads": torch.get_num_threads(), "split": cfg.split,
              "solver": cfg.solver, "bf16": cfg.bf16,
              "nfe": {m: int(index.loc[index.method == m, "nfe"].iloc[0]) for m in counts.index},
              "translations": {m: int(n) for m, n in counts.items()},
              "seconds": {m: round(s, 2) for m, s in seconds.items()},
              "images_per_second": {m: round(float(counts[m] / seconds[m]), 2)
                                    for m in counts.index},
              "pairs": len(plan), "taus": sorted({p.tau for p in plan})}
    write_json(args.report, report)
    print(f"translate: {len(index)} translations in {sum(seconds.values()):.1f} s "
          f"({report['images_per_second']} images/s) -> {args.out}")


if __name__ == "__main__":
    run_stage("translate", main)

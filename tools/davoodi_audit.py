"""``python -m tools.davoodi_audit --data ../shared/data --out results/davoodi/audit``: the
shortcut audit of the Davoodi composite (:mod:`cxr_keras.audits.davoodi`), writing
``shortcut_audit.csv`` (every view, without and with each mitigation) and ``claims.csv`` (one
``shortcut_claim`` row per mitigation).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cxr_keras.audits.davoodi import audit_dataset, original_sizes
from cxr_keras.audits.shortcut import shortcut_claim
from cxr_keras.data.davoodi import DavoodiCovidDataset
from cxr_keras.io import write_csv
from cxr_keras.paths import COVID_DIR


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="root laid out like ../shared/data")
    parser.add_argument("--out", required=True, help="folder for shortcut_audit.csv")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-boot", type=int, default=500)
    args = parser.parse_args(argv)
    dataset = DavoodiCovidDataset.from_root(args.data, seed=args.seed)
    sizes = original_sizes(dataset.frame, Path(args.data) / COVID_DIR / "metadata.csv")
    audit = audit_dataset(dataset, args.image_size, metadata=sizes, seed=args.seed, n_boot=args.n_boot)
    known = sizes.notna().all(axis=1)
    print(f"original size known for {int(known.sum())} of {len(sizes)} images "
          f"({', '.join(sorted(set(dataset.frame['label'][known])))})")
    path = write_csv(Path(args.out) / "shortcut_audit.csv", audit.round(4))
    claims = pd.concat(
        [shortcut_claim(rows).assign(claim=lambda f, m=method: f["claim"] + f" (mitigation: {m})")
         for method, rows in audit.groupby("mitigation", sort=False)], ignore_index=True)
    write_csv(Path(args.out) / "claims.csv", claims)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(audit[["mitigation", "view", "auc", "auc_low", "auc_high", "balanced_accuracy",
                     "balanced_accuracy_low", "balanced_accuracy_high", "source_shortcut"]].round(3))
    print(f"wrote {path} and claims.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

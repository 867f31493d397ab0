"""External baseline: classifiers trained on PneumoniaMNIST the MedMNIST v2 way, beside its table.

The recipe (Yang et al. 2023, MedMNIST v2): Adam at 1e-3, batch 128, cross-entropy, learning
rate times 0.1 at 50% and 75% of the epochs (100 epochs in the paper). Test ACC and AUC
(AUC of the pneumonia probability) come with percentile bootstrap CIs over test images.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, roc_auc_score

from cxr_keras.metrics.classification import bootstrap_ci

# MedMNIST v2 (Yang et al. 2023, Table 3), PneumoniaMNIST test ACC / AUC.
MEDMNIST_V2_PNEUMONIA = pd.DataFrame(
    [
        ("ResNet-18 (28)", 0.854, 0.944), ("ResNet-50 (28)", 0.854, 0.948),
        ("ResNet-18 (224)", 0.864, 0.956), ("ResNet-50 (224)", 0.884, 0.962),
        ("auto-sklearn", 0.855, 0.942), ("AutoKeras", 0.878, 0.947),
        ("Google AutoML Vision", 0.946, 0.991),
    ],
    columns=["model", "acc", "auc"],
)
TABLE_COLUMNS = ["source", "model", "acc", "acc_low", "acc_high", "auc", "auc_low", "auc_high"]


def medmnist_schedule(epochs: int, learning_rate: float = 1e-3):
    """Epoch (0-based) -> learning rate: x0.1 from epoch int(0.5 * epochs), x0.01 from int(0.75 * epochs)
    (a milestone that falls on epoch 0, as with 1 epoch, is skipped)."""
    if epochs < 1 or learning_rate <= 0:
        raise ValueError(f"epochs must be >= 1 and learning_rate > 0, got {epochs} and {learning_rate}")

    milestones = [m for m in (int(0.5 * epochs), int(0.75 * epochs)) if m > 0]

    def rate(epoch: int, _current: float | None = None) -> float:
        return learning_rate * 0.1 ** sum(epoch >= m for m in milestones)

    return rate


def train_medmnist_way(
    model: keras.Model, train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None = None, epochs: int = 100, batch_size: int = 128,
    learning_rate: float = 1e-3, seed: int = 0, verbose: int = 0,
) -> pd.DataFrame:
    """Fit ``model`` (softmax outputs) on integer labels; return the per-epoch history."""
    x, y = train
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"train must be (images, labels) of one length, got {len(x)} and {len(y)}")
    keras.utils.set_random_seed(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        x, y, batch_size=batch_size, epochs=epochs, validation_data=val, shuffle=True,
        callbacks=[keras.callbacks.LearningRateScheduler(medmnist_schedule(epochs, learning_rate))],
        verbose=verbose,
    )
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    return frame


def acc_auc_with_ci(y_true, y_prob, n_boot: int = 1000, seed: int = 0) -> dict:
    """ACC (threshold 0.5) and AUC of a binary (n, 2) probability array, each with a 95% CI."""
    y_true, y_prob = np.asarray(y_true).reshape(-1), np.asarray(y_prob)
    if y_prob.shape != (len(y_true), 2):
        raise ValueError(f"y_prob must be (n, 2) for {len(y_true)} labels, got {y_prob.shape}")
    metrics = {
        "acc": lambda y, p: accuracy_score(y, (p[:, 1] >= 0.5).astype(int)),
        "auc": lambda y, p: roc_auc_score(y, p[:, 1]),
    }
    out = {}
    for name, fn in metrics.items():
        ci = bootstrap_ci(fn, y_true, y_prob, n_boot=n_boot, seed=seed)
        out.update({name: ci["estimate"], f"{name}_low": ci["low"], f"{name}_high": ci["high"]})
    return out


def table_beside_medmnist(ours: pd.DataFrame) -> pd.DataFrame:
    """MedMNIST v2's rows (source "MedMNIST v2", no CI) above ours (source "kit"), one table.

    ``ours`` has columns model, acc, acc_low, acc_high, auc, auc_low, auc_high; any further
    columns (e.g. epochs, wall_seconds) are kept after them.
    """
    missing = set(TABLE_COLUMNS[1:]) - set(ours.columns)
    if missing:
        raise ValueError(f"ours lacks columns {sorted(missing)}; build its rows with acc_auc_with_ci")
    extra = [c for c in ours.columns if c not in TABLE_COLUMNS]
    paper = MEDMNIST_V2_PNEUMONIA.assign(source="MedMNIST v2")
    both = pd.concat([paper, ours.assign(source="kit")], ignore_index=True)
    return both[[*TABLE_COLUMNS, *extra]]


def compare_with_reference(ours: pd.Series, reference: str = "ResNet-18 (28)") -> pd.DataFrame:
    """Claims that one of our rows reaches a MedMNIST v2 row's ACC and AUC.

    Verdict per metric: "held" when the reference value lies inside our 95% CI or below it
    (the model is at least as good), "did not hold" when our whole CI is below it. Columns:
    claim, kit, held, verdict.
    """
    paper = MEDMNIST_V2_PNEUMONIA.set_index("model")
    if reference not in paper.index:
        raise ValueError(f"reference must be one of {list(paper.index)}, got {reference!r}")
    rows = []
    for metric in ("acc", "auc"):
        value, low, high = ours[metric], ours[f"{metric}_low"], ours[f"{metric}_high"]
        target = paper.at[reference, metric]
        held = bool(high >= target)
        where = "inside" if low <= target <= high else ("below" if target < low else "above")
        rows.append({
            "claim": f"{ours['model']} reaches MedMNIST v2 {reference} test {metric.upper()} {target:.3f}",
            "kit": f"{value:.3f} [{low:.3f}, {high:.3f}]; the MedMNIST value lies {where} the 95% CI",
            "held": held, "verdict": "held" if held else "did not hold",
        })
    return pd.DataFrame(rows)

"""Train a logistic-regression classifier with numpy and track it with trainwire.

Runs anywhere with no setup: with no collector configured, trainwire stores the
run in ./trainwire.db. Then `trainwire runs` lists it and `trainwire show NAME`
shows it. Set TRAINWIRE_ENDPOINT=host:4317 to send to a collector instead.
"""

from __future__ import annotations

import argparse

import numpy as np

import trainwire


def make_data(rng: np.random.Generator, n: int, features: int) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping Gaussian blobs, labelled 0 and 1."""
    centers = rng.normal(0.0, 0.35, size=(2, features))
    labels = rng.integers(0, 2, size=n)
    points = centers[labels] + rng.normal(0.0, 1.0, size=(n, features))
    return points, labels.astype(np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="logreg")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    x, y = make_data(rng, 4000, args.features)
    x_train, y_train, x_val, y_val = x[:3200], y[:3200], x[3200:], y[3200:]
    weights, bias = np.zeros(args.features), 0.0

    with trainwire.init(
        name=args.name, experiment="examples", config=args, tags=["numpy", "logistic-regression"]
    ) as run:
        step = 0
        best_val_acc = 0.0
        for epoch in range(args.epochs):
            order = rng.permutation(len(x_train))
            for start in range(0, len(order), args.batch_size):
                batch = order[start : start + args.batch_size]
                logits = x_train[batch] @ weights + bias
                probs = 1.0 / (1.0 + np.exp(-logits))
                error = probs - y_train[batch]
                weights -= args.lr * x_train[batch].T @ error / len(batch)
                bias -= args.lr * float(error.mean())
                eps = 1e-12
                loss = -np.mean(
                    y_train[batch] * np.log(probs + eps)
                    + (1 - y_train[batch]) * np.log(1 - probs + eps)
                )
                run.log({"train/loss": loss, "epoch": epoch}, step=step)
                step += 1
            val_probs = 1.0 / (1.0 + np.exp(-(x_val @ weights + bias)))
            val_acc = float(np.mean((val_probs > 0.5) == y_val))
            best_val_acc = max(best_val_acc, val_acc)
            run.log({"val/acc": val_acc, "epoch": epoch}, step=step)
        run.summary({"best_val_acc": best_val_acc, "steps": step})
        print(f"run {run.name} ({run.id}): best validation accuracy {best_val_acc:.3f}")


if __name__ == "__main__":
    main()

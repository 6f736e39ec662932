"""Learning-rate search with Optuna (TPE, log-uniform), a table and a plot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ...errors import InputError, require
from .config import TrainConfig, log_stderr
from .loop import train

# -- learning-rate search -------------------------------------------------------------------------

#: The log-uniform range the issue asks for.
LR_RANGE = (5e-6, 5e-4)


@dataclass(frozen=True)
class Trial:
    number: int
    lr: float
    f1: float
    seconds: float


def search_lr(
    cfg: TrainConfig, trials: int, plot: Path | None, log: Callable[[str], None] = log_stderr
) -> tuple[list[Trial], Trial]:
    """Optuna TPE over the learning rate (log-uniform), maximising eval F1; no model written."""
    optuna = require("optuna", "train")
    if cfg.eval_data is None and cfg.holdout is None:
        raise InputError("--search lr needs eval data: pass --eval FILE or --holdout PCT.")
    results: list[Trial] = []

    def objective(trial) -> float:
        lr = trial.suggest_float("lr", *LR_RANGE, log=True)
        log(f"-- trial {trial.number}: lr {lr:.3g}")
        res = train(replace(cfg, lr=lr, out=None, eval_every_epoch=False), log=log)
        f1 = float((res.final_eval or {}).get("f1", 0.0))
        results.append(Trial(trial.number, lr, f1, res.seconds))
        return f1

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=cfg.seed)
    )
    study.optimize(objective, n_trials=trials)
    best = max(results, key=lambda t: t.f1)
    if plot is not None:
        plot_lr(results, best, plot)
    return results, best


def plot_lr(results: list[Trial], best: Trial, path: Path) -> None:
    matplotlib = require("matplotlib", "train")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    pts = sorted(results, key=lambda t: t.lr)
    ax.plot([t.lr for t in pts], [t.f1 for t in pts], "o-", color="tab:blue")
    ax.plot([best.lr], [best.f1], "*", color="tab:red", markersize=14, label=f"best {best.lr:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("eval F1")
    ax.set_title("Learning-rate search (Optuna TPE)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def format_trials(results: list[Trial], best: Trial) -> str:
    lines = ["trial  learning rate   eval F1   seconds"]
    for t in results:
        mark = "  <- best" if t is best else ""
        lines.append(f"{t.number:5d}  {t.lr:13.3e}  {t.f1:8.2f}  {t.seconds:8.0f}{mark}")
    lines.append(f"best learning rate: {best.lr:.3e} (eval F1 {best.f1:.2f})")
    return "\n".join(lines)

"""Checkpoints: save, resume, load weights. Not used in the notebooks (``fit``'s ``checkpoints=``).

With ``checkpoint_dir`` set, ``last.pdckpt`` is written after every epoch and ``best.pdckpt``
whenever the monitored validation metric improves. Each file is one ``paddle.save`` dict
(see :func:`load_checkpoint`), written to a hidden temporary file in the same folder and
moved into place with ``os.replace``: a reader sees the old complete file or the new
complete file, never a partial one. Use :func:`load_weights` to put the weights into a model.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import paddle

from ..core.atomic import write_file
from .evaluate import unwrap
from .history import History

__all__ = ["checkpoint_path", "load_checkpoint", "load_weights"]

CHECKPOINT_FORMAT = "fundus_utils.train/1"
CHECKPOINT_SUFFIX = ".pdckpt"


def _structured_names(net: paddle.nn.Layer) -> dict[str, str]:
    """Paddle's unique parameter name (``linear_3.w_0``) -> structured name (``fc.weight``)."""
    return {param.name: name for name, param in net.named_parameters()}


def _split_state_key(key: str, param_names: Sequence[str]) -> tuple[str, str] | None:
    """``"linear_3.w_0_moment1_0"`` -> ``("linear_3.w_0", "moment1")`` (longest matching name)."""
    for name in param_names:
        if key.startswith(name + "_"):
            return name, re.sub(r"_\d+$", "", key[len(name) + 1 :])
    return None


def _portable_optimizer_state(optimizer, net: paddle.nn.Layer) -> dict:
    """The optimizer's state keyed by structured parameter names.

    Paddle keys optimizer state by generated names (``linear_3.w_0_moment1_0``) that differ
    for a model rebuilt in the same process, so a raw ``set_state_dict`` would fail there.
    """
    names = _structured_names(net)
    by_length = sorted(names, key=len, reverse=True)
    portable: dict[str, Any] = {"accumulators": {}, "master_weights": {}, "other": {}}
    for key, value in optimizer.state_dict().items():
        if key == "LR_Scheduler":
            portable["LR_Scheduler"] = value
        elif key == "master_weights":
            portable["master_weights"] = {names[k]: v for k, v in value.items() if k in names}
        else:
            parsed = _split_state_key(key, by_length)
            if parsed is None:
                portable["other"][key] = value
            else:
                portable["accumulators"].setdefault(names[parsed[0]], {})[parsed[1]] = value
    return portable


def _materialise_optimizer_state(optimizer, net: paddle.nn.Layer) -> None:
    """Make the optimizer create its accumulators with one step on all-zero gradients.

    Paddle creates optimizer state lazily at the first step; only existing state can be
    overwritten by name. The weights this step may touch are loaded afterwards anyway.
    """
    trainable = [p for p in net.parameters() if not p.stop_gradient]
    if not trainable:
        return
    paddle.add_n([(p * 0).sum() for p in trainable]).backward()
    optimizer.step()
    optimizer.clear_grad()
    net.clear_gradients()


def _restore_optimizer_state(optimizer, net: paddle.nn.Layer, portable: dict) -> None:
    """Load :func:`_portable_optimizer_state` output into ``optimizer`` (after the weights are
    loaded)."""
    names = _structured_names(net)
    by_length = sorted(names, key=len, reverse=True)
    state = {}
    for key, value in optimizer.state_dict().items():
        parsed = (
            _split_state_key(key, by_length)
            if key not in ("LR_Scheduler", "master_weights")
            else None
        )
        saved = (
            portable["accumulators"].get(names[parsed[0]], {}).get(parsed[1]) if parsed else None
        )
        state[key] = saved if saved is not None else value
    saved_masters = portable.get("master_weights", {})
    masters = {
        p.name: saved_masters[names[p.name]]
        for p in net.parameters()
        if names[p.name] in saved_masters
    }
    if masters:
        state["master_weights"] = masters
    if "LR_Scheduler" in portable:
        state["LR_Scheduler"] = portable["LR_Scheduler"]
    state.update({k: v for k, v in portable.get("other", {}).items() if k in state})
    optimizer.set_state_dict(state)


def checkpoint_path(checkpoint_dir: str | os.PathLike, which: str = "last") -> Path:
    """``<checkpoint_dir>/last.pdckpt`` or ``<checkpoint_dir>/best.pdckpt``.

    Not used in the notebooks; used by fu.fit.
    """
    return Path(checkpoint_dir) / f"{which}{CHECKPOINT_SUFFIX}"


def _rng_state() -> dict | None:
    """Python, NumPy and Paddle RNG states (stored for inspection; ``None`` if unavailable)."""
    try:
        name, keys, position, has_gauss, cached = np.random.get_state()
        return {
            "python": random.getstate(),
            "numpy": [name, keys.astype(np.int64).tolist(), position, has_gauss, cached],
            "paddle": paddle.get_rng_state(),
        }
    except Exception:  # noqa: BLE001 - RNG state is a nicety; determinism comes from per-epoch seeds
        return None


def _restore_rng_state(state: dict | None) -> None:
    if not state:
        return
    try:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
        name, keys, position, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
        paddle.set_rng_state(state["paddle"])
    except Exception:  # noqa: BLE001
        pass


def _scaler_state(scaler) -> dict:
    """GradScaler state with arrays as lists (``load_state_dict`` reads ``state["scale"][0]``)."""
    if scaler is None:
        return {}
    return {
        k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in scaler.state_dict().items()
    }


def save_checkpoint(
    path: Path, *, net, optimizer, scaler, scheduler, history: History, seed: int
) -> None:
    state = {
        "format": CHECKPOINT_FORMAT,
        "epoch": history.epochs,
        "seed": seed,
        "model": net.state_dict(),
        "optimizer": _portable_optimizer_state(optimizer, net),
        "scaler": _scaler_state(scaler),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "history": history.to_dict(),
        "rng": _rng_state(),
        "paddle_version": paddle.__version__,
    }
    write_file(path, lambda temporary: paddle.save(state, temporary))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`fit`.

    Not used in the notebooks; reads what fu.fit writes with fu.Checkpointing.

    Keys: ``format``, ``epoch`` (completed epochs), ``seed`` (base seed), ``model`` (state
    dict), ``optimizer`` (state keyed by structured parameter names), ``scaler``
    (GradScaler state), ``scheduler`` (LRScheduler state or None), ``history``
    (:meth:`History.to_dict`), ``rng`` (Python/NumPy/Paddle generator states) and
    ``paddle_version``.
    """
    state = paddle.load(str(path))
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path}: expected a fundus_utils.engine.loop checkpoint ({CHECKPOINT_FORMAT}), "
            "found something else (a weights-only .pdparams file?)"
        )
    return state


def load_weights(model: paddle.nn.Layer, path: str | os.PathLike) -> paddle.nn.Layer:
    """Load weights from a :func:`fit` checkpoint or a plain ``.pdparams`` state dict into
    ``model``.

    Not used in the notebooks; reuses a fu.Checkpointing checkpoint outside fu.fit.
    """
    state = paddle.load(str(path))
    if isinstance(state, dict) and state.get("format") == CHECKPOINT_FORMAT:
        state = state["model"]
    _set_weights(unwrap(model), state, path)
    return model


def _check_weights_fit(net: paddle.nn.Layer, state: dict, source) -> None:
    expected, found = set(net.state_dict()), set(state)
    if expected != found:
        raise ValueError(
            f"{source}: weights do not fit {type(net).__name__}: missing "
            f"{sorted(expected - found)[:5]}, unexpected {sorted(found - expected)[:5]}"
        )


def _set_weights(net: paddle.nn.Layer, state: dict, source) -> None:
    _check_weights_fit(net, state, source)
    net.set_state_dict(state)


def resume_from(
    path: Path, *, net, optimizer, scaler, scheduler
) -> tuple[int, History, int | None]:
    """Restore everything from ``path``; returns (completed epochs, history, base seed)."""
    state = load_checkpoint(path)
    _check_weights_fit(net, state["model"], path)
    _materialise_optimizer_state(optimizer, net)
    _set_weights(net, state["model"], path)
    _restore_optimizer_state(optimizer, net, state["optimizer"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.set_state_dict(state["scheduler"])
    _restore_rng_state(state.get("rng"))
    return int(state["epoch"]), History.from_dict(state["history"]), state.get("seed")

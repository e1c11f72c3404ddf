"""Model inspection: a layer-by-layer shape walk, parameter and FLOP counts, activation memory.

Everything here runs one forward pass on a batch of zeros (so the global random
state is untouched) in eval mode under ``paddle.no_grad``, and leaves the model
exactly as it found it: hooks removed, each sublayer's train/eval flag restored.

``paddle.summary(model, (1, 3, 224, 224))`` prints a similar table; :func:`shape_walk`
adds what a lesson needs on top: dotted layer names, a depth knob, deterministic
text (for nbval), a DataFrame to compute with, and a report instead of a crash
when a layer receives the wrong shape (the LeNet-at-224 lesson).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import paddle
import pandas as pd
from paddle import nn

__all__ = [
    "shape_walk",
    "print_shape_walk",
    "format_shape_walk",
    "count_params",
    "count_flops",
    "activation_memory",
    "receptive_fields",
]

WALK_COLUMNS = ("layer", "type", "output_shape", "params")
ERROR_ATTR = "error"  # DataFrame.attrs key: first line of the forward error, if any
STOPPED_ATTR = "stopped"  # DataFrame.attrs key: version-independent summary of it
REPEAT_CALL_SUFFIX = " (call {n})"
FLOAT32_BYTES = 4
COLUMN_GAP = "  "


# --- shared helpers ---------------------------------------------------------


@contextlib.contextmanager
def eval_mode(model: nn.Layer) -> Iterator[nn.Layer]:
    """Put ``model`` in eval mode for the block, then restore every sublayer's own flag."""
    flags = [(layer, layer.training) for layer in model.sublayers(include_self=True)]
    model.eval()
    try:
        yield model
    finally:
        for layer, training in flags:
            layer.training = training


def main_output(output: Any) -> paddle.Tensor:
    """The main prediction of a model output: GoogLeNet returns ``(main, aux1, aux2)``."""
    while isinstance(output, (list, tuple)):
        output = output[0]
    return output


def _has_children(layer: nn.Layer) -> bool:
    return next(iter(layer.children()), None) is not None


def _named_leaves(model: nn.Layer) -> list[tuple[str, nn.Layer]]:
    if not _has_children(model):
        return [(type(model).__name__, model)]
    return [(name, layer) for name, layer in model.named_sublayers() if not _has_children(layer)]


def _named_layers_to_depth(model: nn.Layer, depth: int | None) -> list[tuple[str, nn.Layer]]:
    """Leaves, or with ``depth`` the layers at that nesting level plus shallower leaves."""
    if depth is None:
        return _named_leaves(model)
    if depth < 1:
        raise ValueError(f"depth must be None or >= 1, got {depth}")
    chosen = []
    for name, layer in model.named_sublayers():
        level = name.count(".") + 1
        if level == depth or (level < depth and not _has_children(layer)):
            chosen.append((name, layer))
    return chosen or _named_leaves(model)


def _shape_of(value: Any) -> Any:
    """A tensor's shape as a tuple of ints; nested tuples for tuple/list outputs."""
    if isinstance(value, paddle.Tensor):
        return tuple(int(d) for d in value.shape)
    if isinstance(value, (list, tuple)):
        return tuple(_shape_of(v) for v in value)
    return type(value).__name__


def _numel_of(value: Any) -> int:
    if isinstance(value, paddle.Tensor):
        return math.prod(int(d) for d in value.shape)
    if isinstance(value, (list, tuple)):
        return sum(_numel_of(v) for v in value)
    return 0


def _expectation(layer: nn.Layer) -> str:
    """What a layer expects, for the error line (the LeNet lesson: a Linear's in_features)."""
    if isinstance(layer, nn.Linear):
        return f"; it expects {int(layer.weight.shape[0])} input features"
    return ""


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


# --- running a model with hooks --------------------------------------------


@dataclass
class _Call:
    name: str
    layer: nn.Layer
    inputs: tuple
    output: Any


@dataclass
class _Recording:
    calls: list[_Call] = field(default_factory=list)
    failed_layer: tuple[str, nn.Layer, Any] | None = None  # (name, layer, input shape)
    error: BaseException | None = None


def _record_calls(
    model: nn.Layer, input_shape: Sequence[int], named_layers: list[tuple[str, nn.Layer]]
) -> _Recording:
    """Run ``model`` once on zeros, recording each call of the given layers in call order.

    A forward error is caught and stored with the layer that was running when it
    happened (the innermost watched layer entered but not finished).
    """
    recording = _Recording()
    entered: list[tuple[str, nn.Layer, Any]] = []
    handles = []

    def watch(name: str, layer: nn.Layer) -> None:
        def pre_hook(_layer, inputs):
            entered.append((name, layer, _shape_of(tuple(inputs))))

        def post_hook(_layer, inputs, output):
            entered.pop()
            recording.calls.append(_Call(name, layer, tuple(inputs), output))

        handles.append(layer.register_forward_pre_hook(pre_hook))
        handles.append(layer.register_forward_post_hook(post_hook))

    for name, layer in named_layers:
        watch(name, layer)
    try:
        with eval_mode(model), paddle.no_grad():
            model(paddle.zeros(list(input_shape), dtype="float32"))
    except Exception as error:  # reported to the caller, never swallowed silently
        recording.error = error
        recording.failed_layer = entered[-1] if entered else None
    finally:
        for handle in handles:
            handle.remove()
    return recording


def _raise_if_failed(recording: _Recording) -> None:
    if recording.error is not None:
        raise recording.error


# --- public API -------------------------------------------------------------


def count_params(model: nn.Layer, trainable_only: bool = False) -> int:
    """Number of parameter values (shared parameters counted once).

    Taught in 01_lenet, §2 and §3.
    """
    return sum(
        math.prod(p.shape) for p in model.parameters() if not (trainable_only and p.stop_gradient)
    )


def shape_walk(
    model: nn.Layer, input_shape: Sequence[int], *, depth: int | None = None
) -> pd.DataFrame:
    """One row per layer call, in execution order: ``layer, type, output_shape, params``.

    Taught in 01_lenet, §3.

    ``layer`` is the dotted name from ``named_sublayers()``. With ``depth=None`` the
    rows are the leaf layers; with ``depth=k`` each sub-tree below nesting level ``k``
    is collapsed into one row (``depth=1``: one row per top-level block).
    ``output_shape`` is a tuple (a tuple of tuples for a tuple output); ``params``
    counts a layer's parameters at its first call only, so the column sums to
    :func:`count_params` when every layer runs (a layer called again appears as
    ``name (call 2)`` with 0 params). Layers that never run (GoogLeNet's auxiliary
    heads in eval mode, say) do not appear.

    The model runs in eval mode on ``paddle.zeros(input_shape)``. If the forward
    pass fails (a Linear given the wrong number of inputs), the table ends with the
    failing layer, its ``output_shape`` reads ``"error, input <shape>"`` and
    ``df.attrs["error"]`` holds the first line of the error and ``df.attrs["stopped"]``
    a summary that reads the same on every Paddle version; nothing is raised.
    """
    recording = _record_calls(model, input_shape, _named_layers_to_depth(model, depth))
    rows, seen = [], {}
    for call in recording.calls:
        n_calls = seen[id(call.layer)] = seen.get(id(call.layer), 0) + 1
        first = n_calls == 1
        rows.append(
            (
                call.name if first else call.name + REPEAT_CALL_SUFFIX.format(n=n_calls),
                type(call.layer).__name__,
                _shape_of(call.output),
                count_params(call.layer) if first else 0,
            )
        )
    table_attrs = {}
    if recording.error is not None:
        stopped = f"Forward pass stopped: {type(recording.error).__name__}"
        if recording.failed_layer is not None:
            name, layer, input_shapes = recording.failed_layer
            shape = input_shapes[0] if len(input_shapes) == 1 else input_shapes
            rows.append((name, type(layer).__name__, f"error, input {shape}", count_params(layer)))
            stopped += f" in {name} ({type(layer).__name__}) on input {shape}{_expectation(layer)}"
        table_attrs[ERROR_ATTR] = _first_line(recording.error)
        table_attrs[STOPPED_ATTR] = stopped
    table = pd.DataFrame(rows, columns=list(WALK_COLUMNS))
    table.attrs.update(table_attrs)
    return table


def format_shape_walk(table: pd.DataFrame, model: nn.Layer | None = None) -> str:
    """Deterministic text for a :func:`shape_walk` table, with totals when ``model`` is given.

    Taught in 05_resnet, §3.

    The text does not depend on pandas display options; the error line (if any) names the failing
    layer and its input shape only, so the text is the same on Paddle 2.6 and 3.x
    (their error messages differ; the full first line is in ``table.attrs["error"]``).
    """
    lines = [_text_table(table)]
    if model is not None:
        lines.append(
            f"Total params: {count_params(model):,} "
            f"(trainable {count_params(model, trainable_only=True):,})"
        )
    if STOPPED_ATTR in table.attrs:
        lines.append(table.attrs[STOPPED_ATTR])
    return "\n".join(lines)


def _text_table(table: pd.DataFrame) -> str:
    """Plain fixed-width text: numbers right-aligned, everything else left-aligned."""
    cells = [[str(value) for value in table[column]] for column in table.columns]
    numeric = [pd.api.types.is_integer_dtype(table[column]) for column in table.columns]
    widths = [
        max([len(str(column))] + [len(cell) for cell in column_cells])
        for column, column_cells in zip(table.columns, cells)
    ]

    def line(values: Sequence[str]) -> str:
        return COLUMN_GAP.join(
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric)
        ).rstrip()

    rows = [line([str(column) for column in table.columns])]
    rows += [line(row_cells) for row_cells in zip(*cells)]
    return "\n".join(rows)


def print_shape_walk(
    model: nn.Layer, input_shape: Sequence[int], *, depth: int | None = None
) -> None:
    """Print :func:`shape_walk` as plain text followed by the parameter totals.

    Taught in 01_lenet, §3.
    """
    print(format_shape_walk(shape_walk(model, input_shape, depth=depth), model))


def activation_memory(
    model: nn.Layer, input_shape: Sequence[int], dtype_bytes: int = FLOAT32_BYTES
) -> int:
    """Bytes of all leaf-layer outputs for one forward pass on a batch of ``input_shape``.

    Taught in 03_vgg, §3.

    A rough estimate of what training keeps for backpropagation (every layer's
    output, a layer called twice counted twice); it ignores in-place operations,
    functional calls outside layers, gradients and optimizer state.
    Raises the forward error if the model cannot run on ``input_shape``.
    """
    recording = _record_calls(model, input_shape, _named_leaves(model))
    _raise_if_failed(recording)
    return sum(_numel_of(call.output) for call in recording.calls) * dtype_bytes


# --- FLOPs ------------------------------------------------------------------
# Counted like paddle.flops (Paddle 2.6): one multiply-accumulate = 1 FLOP.


def _numel(tensor: paddle.Tensor) -> int:
    return math.prod(int(d) for d in tensor.shape)


def _conv_flops(layer: nn.Layer, inputs: tuple, output: paddle.Tensor) -> int:
    # weight: [out_channels, in_channels / groups, k...]
    macs_per_output = math.prod(int(d) for d in layer.weight.shape[1:])
    bias = 1 if layer.bias is not None else 0
    return _numel(output) * (macs_per_output + bias)


def _conv_transpose_flops(layer: nn.Layer, inputs: tuple, output: paddle.Tensor) -> int:
    # weight: [in, out / groups, k...]; every input value is spread over out/groups * k outputs
    per_input = math.prod(int(d) for d in layer.weight.shape[1:])
    bias = _numel(output) if layer.bias is not None else 0
    return _numel(inputs[0]) * per_input + bias


def _linear_flops(layer: nn.Layer, inputs: tuple, output: paddle.Tensor) -> int:
    return _numel(output) * int(layer.weight.shape[0])


def _batch_norm_flops(layer: nn.Layer, inputs: tuple, output: paddle.Tensor) -> int:
    return 2 * _numel(inputs[0])  # eval mode: scale and shift


def _avg_pool_flops(layer: nn.Layer, inputs: tuple, output: paddle.Tensor) -> int:
    return _numel(output)


def _adaptive_avg_pool_flops(layer: nn.Layer, inputs: tuple, output: paddle.Tensor) -> int:
    kernel = math.prod(int(i) // int(o) for i, o in zip(inputs[0].shape[2:], output.shape[2:]))
    return _numel(output) * (kernel + 1)  # additions plus one division per output


def _elementwise_flops(layer: nn.Layer, inputs: tuple, output: paddle.Tensor) -> int:
    return _numel(inputs[0])


_FLOP_RULES: tuple[tuple[tuple[type, ...], Callable[..., int]], ...] = (
    ((nn.Conv1DTranspose, nn.Conv2DTranspose, nn.Conv3DTranspose), _conv_transpose_flops),
    ((nn.Conv1D, nn.Conv2D, nn.Conv3D), _conv_flops),
    ((nn.Linear,), _linear_flops),
    ((nn.BatchNorm, nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D), _batch_norm_flops),
    ((nn.AvgPool1D, nn.AvgPool2D, nn.AvgPool3D), _avg_pool_flops),
    ((nn.AdaptiveAvgPool1D, nn.AdaptiveAvgPool2D, nn.AdaptiveAvgPool3D), _adaptive_avg_pool_flops),
    ((nn.LeakyReLU,), _elementwise_flops),
)


def _layer_flops(layer: nn.Layer, inputs: tuple, output: Any) -> int:
    for types, rule in _FLOP_RULES:
        if isinstance(layer, types):
            return rule(layer, inputs, output)
    return 0


def count_flops(model: nn.Layer, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass on a batch of ``input_shape`` (batch included), eval mode.

    Taught in 01_lenet, §3.

    Convention (the one ``paddle.flops`` uses on Paddle 2.6, so the numbers agree):
    one multiply-accumulate counts as 1 FLOP, i.e. FLOPs = MACs; double the
    result for the "2 x MACs" convention of some papers. Per layer call:

    - Conv1D/2D/3D: ``output elements x (in_channels / groups x kernel area + 1 if bias)``
      (depthwise convolutions via ``groups``);
    - Conv*Transpose: ``input elements x out_channels / groups x kernel area`` (+ bias);
      this one differs from ``paddle.flops``, which reuses the convolution formula;
    - Linear: ``output elements x in_features`` (bias not counted);
    - BatchNorm (any dimension): 2 per element; AvgPool: 1 per output element;
      AdaptiveAvgPool: ``kernel area + 1`` per output element; LeakyReLU: 1 per element;
    - everything else (ReLU, MaxPool, Dropout, Flatten, functional calls): 0.

    Why our own: ``paddle.flops`` raises ``TypeError`` on Paddle 3.3 with NumPy 2
    (it calls ``int()`` on its shape-[1] counters) and prints to stdout on 2.6.
    Raises the forward error if the model cannot run on ``input_shape``.
    """
    recording = _record_calls(model, input_shape, _named_leaves(model))
    _raise_if_failed(recording)
    return sum(_layer_flops(call.layer, call.inputs, call.output) for call in recording.calls)


def receptive_fields(layers: Sequence[tuple[int, int]]) -> list[int]:
    """Receptive field (in input pixels, along one axis) after each ``(kernel, stride)`` layer:
    ``field += (kernel - 1) * jump`` and ``jump *= stride``, where ``jump`` is the distance in
    input pixels between neighbouring positions of the current map.

    Taught in 01_lenet, §6.3 (which writes it out and checks this against it); 03_vgg and
    04_googlenet call it. Pooling layers are ``(kernel, stride)`` pairs too.
    """
    field, jump, fields = 1, 1, []
    for kernel, stride in layers:
        if kernel < 1 or stride < 1:
            raise ValueError(f"expected kernel and stride >= 1, found ({kernel}, {stride})")
        field += (kernel - 1) * jump
        jump *= stride
        fields.append(field)
    return fields

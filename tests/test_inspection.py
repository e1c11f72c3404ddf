"""Shape walk, parameter, FLOP and activation-memory counts on tiny networks."""

from __future__ import annotations

import math

import fundus_utils as fu
from fundus_utils.inspection import (
    activation_memory,
    count_flops,
    count_params,
    eval_mode,
    format_shape_walk,
    print_shape_walk,
    shape_walk,
)

import paddle
import pytest
from paddle import nn

RESNET18_ONE_LOGIT_PARAMS = 11_186_625  # COURSE_NOTES, paddle.vision.models.resnet18(num_classes=1)
PADDLE_DOC_LENET_FLOPS = 347_560  # paddle.flops docstring example (Paddle 2.6 and 3.x)
PADDLE_DOC_LENET_PARAMS = 61_610


class TinyNet(nn.Layer):
    """conv-bn-relu-pool, then flatten-linear; input [N, 3, 8, 8]."""

    def __init__(self, num_classes: int = 2):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2D(3, 4, 3, padding=1), nn.BatchNorm2D(4), nn.ReLU(), nn.MaxPool2D(2)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 4 * 4, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


class TwinHeads(nn.Layer):
    """Like GoogLeNet: one pool used twice, and a (main, aux) tuple output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 2, 1)
        self.pool = nn.MaxPool2D(2)
        self.main = nn.Linear(2 * 2 * 2, 1)
        self.aux = nn.Linear(2 * 4 * 4, 1)
        self.modes_seen: list[bool] = []

    def forward(self, x):
        self.modes_seen.append(self.training)
        once = self.pool(self.conv(x))
        twice = self.pool(once)
        return self.main(paddle.flatten(twice, 1)), self.aux(paddle.flatten(once, 1))


class PaddleDocLeNet(nn.Layer):
    """The LeNet of paddle.flops's docstring, whose documented total is 347 560 FLOPs."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2D(1, 6, 3, stride=1, padding=1),
            nn.ReLU(),
            nn.MaxPool2D(2, 2),
            nn.Conv2D(6, 16, 5, stride=1, padding=0),
            nn.ReLU(),
            nn.MaxPool2D(2, 2),
        )
        self.fc = nn.Sequential(nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10))

    def forward(self, x):
        return self.fc(paddle.flatten(self.features(x), 1))


def hook_count(model: nn.Layer) -> int:
    return sum(
        len(layer._forward_pre_hooks) + len(layer._forward_post_hooks)
        for layer in model.sublayers(include_self=True)
    )


TINY_TABLE = """\
layer       type         output_shape  params
features.0  Conv2D       (1, 4, 8, 8)     112
features.1  BatchNorm2D  (1, 4, 8, 8)      16
features.2  ReLU         (1, 4, 8, 8)       0
features.3  MaxPool2D    (1, 4, 4, 4)       0
head.0      Flatten      (1, 64)            0
head.1      Linear       (1, 2)           130
Total params: 258 (trainable 250)"""


def test_shape_walk_of_a_tiny_network_is_an_exact_table(capsys):
    model = TinyNet()
    table = shape_walk(model, (1, 3, 8, 8))
    assert list(table.columns) == ["layer", "type", "output_shape", "params"]
    assert table["output_shape"].tolist()[-1] == (1, 2)
    assert format_shape_walk(table, model) == TINY_TABLE
    print_shape_walk(model, (1, 3, 8, 8))
    assert capsys.readouterr().out == TINY_TABLE + "\n"


def test_params_column_sums_to_count_params_at_every_depth():
    model = TinyNet()
    for depth in (None, 1, 2):
        assert shape_walk(model, (2, 3, 8, 8), depth=depth)["params"].sum() == count_params(model)
    collapsed = shape_walk(model, (2, 3, 8, 8), depth=1)
    assert collapsed["layer"].tolist() == ["features", "head"]
    assert collapsed["type"].tolist() == ["Sequential", "Sequential"]
    assert collapsed["output_shape"].tolist() == [(2, 4, 4, 4), (2, 2)]


def test_walk_runs_in_eval_mode_handles_tuples_and_reuse_and_restores_state():
    model = TwinHeads()
    model.train()
    model.conv.eval()  # a sublayer's own flag must survive too
    table = shape_walk(model, (1, 3, 8, 8))
    assert model.modes_seen == [False]
    assert model.training and not model.conv.training and model.pool.training
    assert hook_count(model) == 0
    assert table["layer"].tolist() == ["conv", "pool", "pool (call 2)", "main", "aux"]
    assert table["output_shape"].tolist() == [
        (1, 2, 8, 8),
        (1, 2, 4, 4),
        (1, 2, 2, 2),
        (1, 1),
        (1, 1),
    ]
    assert table["params"].sum() == count_params(model) == 8 + 9 + 33


def test_walk_reports_the_layer_that_gets_the_wrong_shape():
    model = nn.Sequential(nn.Conv2D(3, 4, 3), nn.Flatten(), nn.Linear(100, 2))
    table = shape_walk(model, (1, 3, 8, 8))
    assert table.iloc[-1].tolist() == ["2", "Linear", "error, input (1, 144)", 202]
    assert table.attrs["stopped"] == (
        "Forward pass stopped: ValueError in 2 (Linear) on input "
        "(1, 144); it expects 100 input features"
    )
    assert hook_count(model) == 0
    with pytest.raises(ValueError):
        count_flops(model, (1, 3, 8, 8))


def test_count_params_is_the_sum_of_numel_and_honours_trainable_only():
    model = TinyNet()
    assert count_params(model) == sum(math.prod(p.shape) for p in model.parameters()) == 258
    assert count_params(model, trainable_only=True) == 250  # BN running mean/var are frozen
    model.features[0].weight.stop_gradient = True
    assert count_params(model, trainable_only=True) == 250 - 108


def test_count_params_counts_shared_parameters_once():
    shared = nn.Linear(4, 4)
    assert count_params(nn.Sequential(shared, nn.ReLU(), shared)) == 20


def test_resnet18_with_one_output_has_the_known_parameter_count():
    assert count_params(paddle.vision.models.resnet18(num_classes=1)) == RESNET18_ONE_LOGIT_PARAMS


@pytest.mark.parametrize("groups, bias", [(1, True), (1, False), (4, True)])
def test_conv_flops_equal_the_analytic_count(groups, bias):
    conv = nn.Conv2D(4, 8, 3, stride=2, padding=1, groups=groups, bias_attr=None if bias else False)
    out_h = out_w = (16 + 2 * 1 - 3) // 2 + 1
    expected = out_h * out_w * 8 * ((4 // groups) * 3 * 3 + int(bias))
    assert count_flops(conv, (1, 4, 16, 16)) == expected
    assert count_flops(conv, (3, 4, 16, 16)) == 3 * expected


def test_linear_flops_equal_in_features_times_outputs():
    assert count_flops(nn.Linear(10, 5), (2, 10)) == 2 * 5 * 10


def test_flops_follow_paddle_flops_convention_on_its_documented_example():
    model = PaddleDocLeNet()
    assert count_flops(model, (1, 1, 28, 28)) == PADDLE_DOC_LENET_FLOPS
    assert count_params(model) == PADDLE_DOC_LENET_PARAMS


def test_flops_of_batchnorm_and_pooling():
    model = nn.Sequential(nn.BatchNorm2D(2), nn.AvgPool2D(2), nn.AdaptiveAvgPool2D(1), nn.ReLU())
    elements = 2 * 8 * 8
    assert count_flops(model, (1, 2, 8, 8)) == 2 * elements + elements // 4 + 2 * (16 + 1)


def test_activation_memory_sums_leaf_outputs():
    model = TinyNet()
    elements = 4 * 8 * 8 * 3 + 4 * 4 * 4 * 2 + 2  # conv, bn, relu; pool, flatten; linear
    assert activation_memory(model, (1, 3, 8, 8)) == 4 * elements
    assert activation_memory(model, (5, 3, 8, 8), dtype_bytes=2) == 5 * 2 * elements


def test_eval_mode_restores_flags_after_an_error():
    model = TinyNet()
    model.train()
    with pytest.raises(RuntimeError), eval_mode(model):
        assert not model.features[1].training
        raise RuntimeError("boom")
    assert all(layer.training for layer in model.sublayers(include_self=True))


def test_receptive_fields_of_stacked_convolutions_and_pools():
    assert fu.receptive_fields([(3, 1)] * 3) == [3, 5, 7]  # three 3x3 = one 7x7
    assert fu.receptive_fields([(5, 1), (2, 2), (5, 1), (2, 2), (5, 1)]) == [5, 6, 14, 16, 32]
    assert fu.receptive_fields([]) == []
    with pytest.raises(ValueError, match=r"expected kernel and stride >= 1, found \(0, 1\)"):
        fu.receptive_fields([(0, 1)])

"""``netdsl summarize``: formats, the JSON interface, folding, options and errors."""
import csv
import io
import json

import pytest

from conftest import ARCH
from netdsl.cli import main
from netdsl.errors import ExpectationError, ShapeError

RESNET18, LENET = str(ARCH / "resnet18.net"), str(ARCH / "lenet5.net")


def run(capsys, *argv):
    status = main(["summarize", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def summary(capsys, *argv) -> dict:
    status, out, _ = run(capsys, *argv, "--format", "json")
    assert status == 0
    return json.loads(out)


#: Elements of every output with its own storage, by hand (the ReLUs are in place, flatten a view):
#: stem conv+bn 2×64·112², maxpool 64·56²; layer1 2 blocks × (2 convs, 2 bns, add); layers 2-4 the
#: same plus a downsample conv+bn in block 0 (12 each); avgpool 512, fc 1000.
RESNET18_ACTIVATIONS = (2 * 64 * 112 * 112 + 64 * 56 * 56 + 10 * 64 * 56 * 56 + 12 * 128 * 28 * 28
                        + 12 * 256 * 14 * 14 + 12 * 512 * 7 * 7 + 512 + 1000)


def resnet18_flops() -> int:
    """2·MACs from FlopCounterMode plus the elementwise work counted on torch's layers, per sample."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import netdsl
    from test_flops_oracle import ElementwiseCounter
    model = netdsl.load("resnet18").to_torch().eval()
    elementwise = ElementwiseCounter(model)
    with torch.no_grad(), FlopCounterMode(display=False) as macs, elementwise:
        model(torch.randn(2, 3, 224, 224))  # the counter's batch
    return macs.get_total_flops() // 2 + elementwise.total


def test_json_has_the_documented_interface(capsys):
    data = summary(capsys, RESNET18)
    assert data["format"] == "netdsl.summary/1" and data["network"] == "resnet18"
    assert data["input_shape"] == [3, 224, 224]
    assert data["totals"] == {"params": 11_689_512, "trainable_params": 11_689_512, "frozen_params": 0,
                              "buffers": 9_620, "macs": 1_814_073_344, "flops": resnet18_flops(),
                              "activation_bytes": 4 * RESNET18_ACTIVATIONS}
    field = data["receptive_field"]
    assert (field["size"], field["stride"], field["padding"]) == ([435, 435], [32, 32], [217, 217])
    assert field["output_global"] and not field["misaligned"]
    conv1 = next(layer for layer in data["layers"] if layer["name"] == "conv1")
    assert conv1 == {"name": "conv1", "kind": "layer", "op": "conv", "output_shape": [64, 112, 112],
                     "params": 9_408, "trainable_params": 9_408, "buffers": 0, "macs": 118_013_952,
                     "flops": 2 * 118_013_952, "output_bytes": 64 * 112 * 112 * 4,
                     "receptive_field": {"global": False, "size": [7, 7], "stride": [2, 2],
                                         "padding": [3, 3], "center": [0, 0], "misaligned": False}}
    assert sum(layer["params"] for layer in data["layers"]) == data["totals"]["params"]
    assert data["layers"][-1]["receptive_field"] == {"global": True}
    assert {"layer1", "layer1.0", "layer2.0.downsample"} <= {b["name"] for b in data["blocks"]}


def test_depth_folds_blocks_and_keeps_the_totals(capsys):
    full, folded = summary(capsys, RESNET18), summary(capsys, RESNET18, "--depth", "1")
    names = [layer["name"] for layer in folded["layers"]]
    assert names == ["input x", "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                     "avgpool", "flatten", "fc"]
    layer2 = folded["layers"][names.index("layer2")]
    assert layer2["kind"] == "block" and layer2["output_shape"] == [128, 28, 28]
    for key in ("params", "macs", "flops"):
        assert sum(row[key] for row in folded["layers"]) == sum(row[key] for row in full["layers"])
    blocks = {b["name"]: b for b in full["blocks"]}
    assert blocks["layer2"]["params"] == layer2["params"]
    assert blocks["layer2.0"]["params"] == sum(row["params"] for row in full["layers"]
                                               if row["name"].startswith("layer2.0."))


def test_batch_scales_work_and_memory_but_not_params(capsys):
    one, eight = summary(capsys, LENET), summary(capsys, LENET, "--batch", "8")
    assert eight["totals"]["params"] == one["totals"]["params"]
    for key in ("macs", "flops", "activation_bytes"):
        assert eight["totals"][key] == 8 * one["totals"][key]
    assert eight["memory"]["forward_peak_bytes"] == 8 * one["memory"]["forward_peak_bytes"]


def test_dtype_sets_the_bytes_per_element(capsys):
    full, half = summary(capsys, LENET), summary(capsys, LENET, "--dtype", "float16")
    assert half["memory"]["param_bytes"] * 2 == full["memory"]["param_bytes"]
    assert half["totals"]["activation_bytes"] * 2 == full["totals"]["activation_bytes"]


def test_table_is_aligned_with_totals_and_field_line(capsys):
    status, out, _ = run(capsys, RESNET18, "--depth", "2")
    lines = out.splitlines()
    assert status == 0 and lines[0] == "resnet18: input x [3, 224, 224]; batch 1, float32, depth 2"
    header = next(line for line in lines if line.startswith("Layer"))
    params_end = header.index("Params") + len("Params")
    rows = [line for line in lines if line.startswith("layer")]
    assert len(rows) == 8 and all(row[params_end - 1].isdigit() for row in rows)  # right-aligned
    assert "  73,984  " in rows[0]
    assert any(line.startswith("Params     11,689,512") for line in lines)
    assert "Receptive field: 435 x 435 px, stride 32 x 32, padding 217 x 217 at layer4.1.relu_1 (relu)" in out


def test_markdown_and_csv_have_one_row_per_layer(capsys):
    _, md, _ = run(capsys, LENET, "--format", "md")
    assert "| Layer | Op | Output shape | Params | MACs | RF |" in md
    assert "| c1 | conv | `[6, 28, 28]` | 156 | 117,600 | 5 |" in md
    _, text, _ = run(capsys, LENET, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 13 and rows[1]["name"] == "c1" and rows[1]["rf_size"] == "5x5"
    assert rows[-1]["rf_size"] == "global" and int(rows[1]["macs"]) == 117_600


def test_failing_expectation_stops_summarize_with_its_location(tmp_path, capsys):
    path = tmp_path / "bad.net"
    path.write_text("network bad {\n  input [3, 32, 32]\n  conv(8, 3)\n  expect rf >= 5\n}\n")
    status, out, err = run(capsys, str(path))
    assert status == ExpectationError.exit_code == 8 and out == ""
    assert f"{path}:4:3: expectation failed: expectation does not hold: 3 >= 5" in err


def test_input_override_of_the_wrong_rank_is_a_located_error(capsys):
    status, _, err = run(capsys, RESNET18, "--input", "3x224")
    assert status == ShapeError.exit_code == 6
    assert "resnet18.net:" in err and "overridden with [3, 224] (rank 2)" in err
    assert "declares [3, 224, 224]" in err and "3x224x224" in err


def test_input_override_too_small_names_the_layer_and_the_override(capsys):
    status, _, err = run(capsys, LENET, "--input", "1x20x20")
    assert status == ShapeError.exit_code == 6
    assert "lenet5.net:15:" in err and "non-positive output size" in err
    assert "overridden with [1, 20, 20] (--input)" in err


def test_input_override_changes_shapes_and_field_stays(capsys):
    data = summary(capsys, RESNET18, "--input", "3x320x320")
    assert data["input_shape"] == [3, 320, 320]
    assert data["receptive_field"]["size"] == [435, 435]
    assert next(r for r in data["layers"] if r["name"] == "conv1")["output_shape"] == [64, 160, 160]


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in sorted(ARCH.glob("*.net"))])
def test_every_architecture_summarizes(path, capsys):
    data = summary(capsys, str(path), "--depth", "2")
    assert data["totals"]["params"] > 0 and data["layers"]


def test_deep_networks_fold_to_a_readable_depth_with_a_hint(capsys):
    resnet50 = str(ARCH / "resnet50.net")
    status, out, err = run(capsys, resnet50)
    lines = out.splitlines()
    assert status == 0 and lines[0].endswith("depth 2") and len(lines) < 60 + 12
    assert "(folded to depth 2; --depth all for every layer)" in err
    _, every, err = run(capsys, resnet50, "--depth", "all")
    assert len(every.splitlines()) > 170 and "folded" not in err and "depth" not in every.splitlines()[0]
    assert run(capsys, LENET)[2] == ""  # small networks: every layer, no hint


def test_json_and_csv_keep_every_layer_unless_asked(capsys):
    resnet50 = str(ARCH / "resnet50.net")
    data = summary(capsys, resnet50)
    assert data["depth"] is None and len(data["layers"]) == 176
    assert summary(capsys, resnet50, "--depth", "1")["depth"] == 1
    _, text, err = run(capsys, resnet50, "--format", "csv")
    assert len(text.splitlines()) == 177 and err == ""
    _, md, _ = run(capsys, resnet50, "--format", "md")
    assert md.splitlines()[0].endswith("depth 2")


def test_markdown_footer_is_a_table(capsys):
    _, md, _ = run(capsys, LENET, "--format", "md")
    assert "| Total | Value | Detail |\n|---|---:|---|\n| Params | 61,706 | 61.71 K; trainable 61,706" in md
    assert "| MACs | 416,520 | 416.52 K |" in md
    assert "| Receptive field | 32 x 32 px | stride 4 x 4, padding 0 x 0 at tanh_2 (tanh)" in md
    assert "| Training step | 1022.7 KiB | adam estimate:" in md
    assert "- " not in md


def test_every_option_has_help_and_the_command_examples(capsys):
    from netdsl.cli import build_parser
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name in ("summarize", "render", "diff"):
        sub = commands[name]
        assert "examples:" in sub.epilog and f"netdsl {name} " in sub.epilog
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def test_a_folded_row_shows_its_last_nodes_output_and_sums_the_rest(capsys, tmp_path):
    """Rows of --depth 1 show the block's final value, not its first layer's."""
    path = tmp_path / "fold.net"
    path.write_text("network n {\n input x: [3, 8, 8]\n b: { conv(8, 3) relu conv(4, 1) }\n}\n")
    row = next(r for r in summary(capsys, str(path), "--depth", "1")["layers"] if r["name"] == "b")
    assert row["output_shape"] == [4, 6, 6]
    assert row["params"] == (3 * 9 * 8 + 8) + (8 * 4 + 4)
    assert row["macs"] == 36 * 8 * 27 + 36 * 4 * 8


def test_a_scope_of_repeated_blocks_reads_as_their_count(capsys, tmp_path):
    """`stage: repeat 3 { unit(4) }` folds to "3×unit"; a mix of kinds to "group";
    each row's parameters are torch's for that submodule."""
    import netdsl
    path = tmp_path / "stages.net"
    path.write_text("block unit(c: int) {\n  conv(c, 3, padding=1) relu\n}\nnetwork n {\n  input [4, 8, 8]\n"
                    "  stage: repeat 3 { unit(4) }\n  mixed: { unit(4) conv(4, 1) }\n  head: conv(2, 1)\n}\n")
    rows = {r["name"]: r for r in summary(capsys, str(path), "--depth", "1")["layers"]}
    assert (rows["stage"]["op"], rows["mixed"]["op"], rows["head"]["op"]) == ("3×unit", "group", "conv")
    model = netdsl.load(path).to_torch()
    for name in ("stage", "mixed", "head"):
        assert rows[name]["params"] == sum(p.numel() for p in getattr(model, name).parameters())

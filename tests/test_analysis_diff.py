"""``netdsl diff``: totals, receptive field and the rows that changed."""
import json
import re

from conftest import ARCH
from netdsl.cli import main


def diff(capsys, a, b, *argv):
    status = main(["diff", str(a), str(b), *argv])
    out, _ = capsys.readouterr()
    assert status == 0
    return out


def test_resnet18_to_resnet34_adds_blocks_and_grows_the_field(capsys):
    data = json.loads(diff(capsys, ARCH / "resnet18.net", ARCH / "resnet34.net", "--format", "json"))
    assert data["totals"]["params"] == [11_689_512, 21_797_672]
    assert data["receptive_field"] == [[435, 435], [899, 899]]
    added = [row["name"] for row in data["rows"] if row["status"] == "added"]
    assert added == ["layer1.2", "layer2.2", "layer2.3", "layer3.2", "layer3.3", "layer3.4", "layer3.5",
                     "layer4.2"]
    changed = {row["name"]: row for row in data["rows"] if row["status"] == "changed"}
    assert set(changed) >= {"layer2.0", "layer4.1"}  # same params, wider field
    assert changed["layer2.0"]["a"]["params"] == changed["layer2.0"]["b"]["params"]
    assert not any(row["status"] == "removed" for row in data["rows"])


def test_identical_networks_have_no_row_changes(capsys):
    out = diff(capsys, ARCH / "vgg16.net", ARCH / "vgg16.net")
    assert "no layer or block differs" in out and "params" in out and "unchanged" in out


def test_text_lists_renumbered_and_inserted_layers(capsys):
    out = diff(capsys, ARCH / "vgg16.net", ARCH / "vgg19.net", "--depth", "9")
    assert "+5,309,696 (+3.8%)" in out  # params
    assert "212 x 212 ->          268 x 268" in out
    # unnamed layers pair by position in their scope, whatever number or op name they carry
    assert re.search(r"features\.24 -> features\.30 +changed +conv", out)
    assert re.search(r"features\.relu_10 -> features\.relu_13 +changed +relu", out)
    assert re.search(r"features\.28 +added +conv", out)
    assert re.search(r"features\.maxpool_4 +changed +maxpool .* 212 -> 268", out)


def test_depth_compares_block_by_block(capsys, tmp_path):
    wide = tmp_path / "wide.net"
    wide.write_text((ARCH / "lenet5.net").read_text().replace("c3: conv(16, 5)", "c3: conv(32, 5)")
                    .replace("expect params == 61_706\n", ""))
    data = json.loads(diff(capsys, ARCH / "lenet5.net", wide, "--format", "json"))
    names = [row["name"] for row in data["rows"]]
    assert names[:2] == ["c3", "tanh_1"] and all(row["status"] == "changed" for row in data["rows"])
    c3 = data["rows"][0]
    assert (c3["a"]["output_shape"], c3["b"]["output_shape"]) == ([16, 10, 10], [32, 10, 10])


def test_totals_use_the_units_of_summarize(capsys):
    out = diff(capsys, ARCH / "resnet18.net", ARCH / "resnet34.net")
    assert "[11.69 M -> 21.80 M]" in out and "[1.81 G -> 3.66 G]" in out  # counts: powers of 1000
    assert "[22.6 MiB -> 34.6 MiB]" in out  # bytes: powers of 1024, as summarize's memory lines


def test_depth_all_compares_every_layer(capsys):
    data = json.loads(diff(capsys, ARCH / "vgg16.net", ARCH / "vgg19.net", "--depth", "all", "--format", "json"))
    assert any(row["name"] == "features.28" and row["status"] == "added" for row in data["rows"])

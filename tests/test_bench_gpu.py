"""bench/gpu.py runs end to end on a CPU with --smoke (tiny sizes, no compile):
the GPU session then only has to run it."""
import json
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import gpu  # noqa: E402


def test_smoke_run_writes_every_measurement(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpu.main(["--smoke", "--models", "resnet18", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["device"] == "cpu"
    (row,) = result["rows"]
    assert row["model"] == "resnet18" and row["batch"] == 2
    for key in ("train_eager", "infer_eager"):
        assert row[key]["netdsl"]["images_per_s"] > 0 and row[key]["torchvision"]["images_per_s"] > 0
    assert row["infer_eager"]["netdsl_folded"]["images_per_s"] > 0
    assert row["train_eager"]["netdsl"]["estimate_bytes"] > 0 and 0 < row["mfu_train_eager"]
    printed = capsys.readouterr().out
    assert "device: cpu" in printed and "infer_folded images/s" in printed

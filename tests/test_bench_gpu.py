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


def test_a_spent_budget_skips_the_remaining_models_and_says_which(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpu.main(["--smoke", "--models", "resnet18", "vgg16", "--budget", "0", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["rows"] == [] and result["skipped"] == ["resnet18", "vgg16"]
    assert "skipped resnet18, vgg16" in capsys.readouterr().out


def test_results_are_written_after_each_model(tmp_path, monkeypatch):
    # a lent machine's call can be killed at its limit: finished models must be on disk by then
    out = tmp_path / "gpu.json"
    seen = []
    real = gpu.measure_model

    def measure_then_look(name, *rest):
        if seen:  # the second model starts: the first is already written
            assert [row["model"] for row in json.loads(out.read_text())["rows"]] == seen
        seen.append(name)
        return real(name, *rest)

    monkeypatch.setattr(gpu, "measure_model", measure_then_look)
    assert gpu.main(["--smoke", "--models", "resnet18", "googlenet", "--json", str(out)]) == 0
    assert seen == ["resnet18", "googlenet"]


def test_inference_only_measures_eager_folded_and_nothing_of_training(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpu.main(["--smoke", "--inference-only", "--models", "resnet18", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    (row,) = result["rows"]
    assert set(row["infer_eager"]) == {"netdsl", "netdsl_folded", "torchvision"}
    assert not any(key.startswith("train") or key.startswith("mfu") for key in row)
    assert result["bf16_matmul_flops"] is None
    printed = capsys.readouterr().out
    assert "infer_folded images/s" in printed and "MFU" not in printed

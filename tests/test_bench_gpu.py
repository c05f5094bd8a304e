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
    assert result["matmul_flops"] is None and result["precision"] == "fp32"
    printed = capsys.readouterr().out
    assert "infer_folded images/s" in printed and "MFU" not in printed


def test_contenders_are_timed_in_alternating_rounds():
    # one after the other, drift in the machine's speed would favour whichever ran first
    order = []
    args = gpu.parse_args(["--steps", "4", "--rounds", "4", "--warmup", "1"])
    seconds = gpu.timed_side_by_side({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                                     args, gpu.torch.device("cpu"))
    assert order == ["a", "b"] + ["a", "b", "b", "a", "a", "b", "b", "a"]  # warm-up, then a b | b a | ...
    assert set(seconds) == {"a", "b"} and all(s >= 0 for s in seconds.values())


def test_a_training_step_counts_its_own_state_and_batch():
    torch = gpu.torch
    model = torch.nn.Linear(3, 2)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
    step, own_bytes = gpu.training_step(model, x, y, torch.device("cpu"), compiled=False)
    before = own_bytes()  # weights and the batch; no gradients or momentum yet
    assert before == 4 * (6 + 2 + 12) + 8 * 4
    step()
    assert own_bytes() == before + 2 * 4 * (6 + 2)  # + gradients + momentum


def test_a_step_peak_leaves_out_what_the_other_model_holds(monkeypatch):
    # no GPU here: the CUDA allocator's counters are played by a fake
    cuda = gpu.torch.cuda
    state = {"allocated": 1000, "peak": 0}
    monkeypatch.setattr(cuda, "synchronize", lambda: None)
    monkeypatch.setattr(cuda, "empty_cache", lambda: None)
    monkeypatch.setattr(cuda, "memory_allocated", lambda: state["allocated"])
    monkeypatch.setattr(cuda, "max_memory_allocated", lambda: state["peak"])
    monkeypatch.setattr(cuda, "reset_peak_memory_stats", lambda: state.update(peak=state["allocated"]))

    def step():  # 600 bytes of activations on top of everything resident
        state["peak"] = state["allocated"] + 600

    # 1000 resident, 300 of them this model's own: the other model holds 700
    assert gpu.step_peak_bytes(step, 300, gpu.torch.device("cuda")) == 900
    assert gpu.step_peak_bytes(step, 300, gpu.torch.device("cpu")) is None


def test_the_memory_bench_runs_its_gpu_free_part_on_a_cpu(capsys):
    # what a lent GPU runs first: the estimate and autograd's saved activations, here on a CPU
    import gpu_memory
    assert gpu_memory.main(["resnet18", "--batch", "2", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "resnet18, batch 2, float32, momentum, cpu" in printed
    assert "autograd      42.3 MiB (+0.0%)" in printed and "max_memory_allocated" not in printed
    if not gpu_memory.torch.cuda.is_available():
        assert gpu_memory.main(["resnet18"]) == 2

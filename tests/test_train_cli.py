"""``netdsl train`` on real digits (the acceptance run), then ``netdsl eval`` and
``netdsl predict`` on its checkpoint."""
import csv
import json

import pytest
import torch
from conftest import ARCH

from netdsl.cli import main
from netdsl.training import load_config

LENET = str(ARCH / "lenet5.net")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


#: Why Adam is the default: plain SGD at torch's lr (1e-3) reaches 38% in these 10 epochs,
#: Adam at its own default lr 97.4% (SGD with momentum 0.9 and lr 0.05 does too).
def test_the_default_optimizer_is_adam_at_torchs_rate():
    optimizer = load_config(None).optimizer
    assert (optimizer.name, optimizer.lr) == ("adam", 1e-3)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """The acceptance command: netdsl train architectures/lenet5.net --data digits --epochs 10."""
    out = tmp_path_factory.mktemp("lenet5_digits")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # LeNet-5 gains nothing from more; a shared CI machine loses much
    try:
        status = main(["train", LENET, "--data", "digits", "--epochs", "10", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert status == 0
    return out


def test_lenet5_learns_real_digits(digits_run, capsys):
    summary = json.loads((digits_run / "metrics.json").read_text())
    assert summary["test"]["accuracy"] >= 0.95, summary["test"]
    assert summary["test"]["images"] == 270 and summary["class_names"][3] == "3"
    rows = list(csv.DictReader(open(digits_run / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 11))
    assert {"train_top5", "val_top5", "lr", "images_per_second", "seconds"} <= set(rows[0])
    assert (digits_run / "curves.png").stat().st_size > 10_000
    assert {p.name for p in digits_run.iterdir()} >= {"last.pt", "best.pt", "metrics.csv",
                                                       "metrics.json", "curves.png"}


def test_train_prints_epochs_and_the_test_accuracy(tmp_path, capsys):
    assert main(["train", LENET, "--data", "digits", "--epochs", "1", "--out", str(tmp_path),
                 "-O", "data.batch_size=128"]) == 0
    out = capsys.readouterr().out
    assert "on digits data (1257 train, 270 val, 270 test, 10 classes" in out
    assert "epoch 1/1" in out and "img/s" in out and "test accuracy" in out


def test_eval_scores_a_checkpoint(digits_run, tmp_path, capsys):
    summary = json.loads((digits_run / "metrics.json").read_text())
    assert main(["eval", LENET, "--checkpoint", str(digits_run / "best.pt"),
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"top-1 {summary['test']['accuracy']:.1%}" in out and "(270 images)" in out
    assert "confusion matrix (rows: true class" in out and "class  images  accuracy" in out
    assert (tmp_path / "confusion.png").stat().st_size > 10_000
    assert main(["eval", LENET, "--checkpoint", str(digits_run / "last.pt"), "--split", "val",
                 "--out", str(tmp_path)]) == 0
    assert "on the val split" in capsys.readouterr().out and (tmp_path / "confusion-val.png").exists()


def test_eval_refuses_a_checkpoint_of_another_network(digits_run, capsys):
    status = main(["eval", LENET, "--set", "num_classes=5", "--checkpoint",
                   str(digits_run / "best.pt")])
    assert status != 0 and "does not fit the network" in capsys.readouterr().err


def test_predict_names_the_classes_of_image_files(digits_run, tmp_path, capsys):
    """Image files are prepared as the training images were: the same classes come out."""
    from PIL import Image
    from sklearn.datasets import load_digits

    import netdsl
    from netdsl.training.checkpoint import load_checkpoint, load_model
    from netdsl.training.images import Normalization, resize
    digits = load_digits()
    chosen = range(len(digits.images) - 6, len(digits.images))
    paths = []
    for index in chosen:
        paths.append(str(tmp_path / f"digit{index}.png"))
        Image.fromarray((digits.images[index] * 255 / 16).round().astype("uint8")).save(paths[-1])
    assert main(["predict", LENET, "--checkpoint", str(digits_run / "best.pt"), "-k", "3",
                 *paths]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6 and all(line.count("%") == 3 for line in lines)
    payload = load_checkpoint(digits_run / "best.pt")
    model = load_model(netdsl.load(LENET), payload, "cpu")
    images = resize(torch.tensor(digits.images[list(chosen)], dtype=torch.float32)[:, None] / 16,
                    (32, 32))
    expected = model(Normalization.from_dict(payload["normalization"])(images)).argmax(1)
    assert [line.split()[1] for line in lines] == [str(int(k)) for k in expected]
    assert main(["predict", LENET, "--checkpoint", str(digits_run / "best.pt"),
                 str(tmp_path / "missing.png")]) != 0
    assert "cannot read image" in capsys.readouterr().err

"""Image folders for the transfer-learning page (docs/course/training-transfer.md).

scikit-learn's 1797 digits are shuffled (seed 0) and cut in two disjoint halves:
- ``OUT/digits-0to4/CLASS/*.png``: the first half's digits 0-4 only — the
  "big" source task a network is pretrained on (netdsl splits it 70/15/15);
- ``OUT/digits-small/{train,val,test}/CLASS/*.png``: the second half, all ten
  classes, with only ``--per-class`` (10) training images per class, 20
  validation images per class and the rest for testing — the small target task.
No image is in both. Run from the repository root:

    python examples/course/digits_transfer_data.py            # writes out/course/
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def save(image: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((image * (255 / 16)).round().astype(np.uint8), mode="L").save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/course")
    parser.add_argument("--per-class", type=int, default=10, help="training images per class")
    parser.add_argument("--val-per-class", type=int, default=20)
    args = parser.parse_args()
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    source, target = order[: len(order) // 2], order[len(order) // 2:]
    out = Path(args.out)
    for i in source:
        if digits.target[i] < 5:
            save(digits.images[i], out / "digits-0to4" / str(digits.target[i]) / f"{i}.png")
    seen: dict = {}
    for i in target:
        label = int(digits.target[i])
        rank = seen[label] = seen.get(label, 0) + 1
        split = "train" if rank <= args.per_class else \
            "val" if rank <= args.per_class + args.val_per_class else "test"
        save(digits.images[i], out / "digits-small" / split / str(label) / f"{i}.png")
    print(f"wrote {out}/digits-0to4 and {out}/digits-small")


if __name__ == "__main__":
    main()

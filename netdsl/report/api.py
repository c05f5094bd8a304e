"""``Network.summary()``: the summarize report as a Python object, for
notebooks and scripts (torchinfo's ``summary()`` contract, plus paper output)."""
from __future__ import annotations

import html
from typing import Union


class Summary:
    """What ``netdsl summarize`` reports, computed statically.

    ``rows`` (one dict per layer or folded block), ``totals``, ``to_dict()``
    (the stable JSON form), ``to_markdown()``, ``to_latex()``, ``str()`` (the
    CLI table) and ``_repr_html_`` for Jupyter."""

    def __init__(self, data: dict):
        self._data = data

    @property
    def rows(self) -> list[dict]:
        return self._data["layers"]

    @property
    def totals(self) -> dict:
        return self._data["totals"]

    def to_dict(self) -> dict:
        return self._data

    def to_markdown(self) -> str:
        from .render import markdown
        return markdown(self._data)

    def to_latex(self, float_env: bool = True) -> str:
        from .latex import latex_table
        return latex_table(self._data, float_env=float_env)

    def __str__(self) -> str:
        from .render import table
        return table(self._data).rstrip("\n")

    def __repr__(self) -> str:
        return f"<Summary {self._data['network']}: {len(self.rows)} rows, {self.totals['params']:,} params>"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


def summarize(net, depth: Union[int, str, None] = "auto", batch: int = 1, dtype: str = "float32",
              optimizer: str = "adam") -> Summary:
    """The report for ``net``.  ``depth``: "auto" folds deep networks to a
    readable depth as the CLI does; "all" or None shows every layer; N folds
    below N name components."""
    from .folding import readable_depth
    from .summary import build_summary
    if depth == "auto":
        depth = readable_depth(net.analyze().ir)
    elif depth == "all":
        depth = None
    return Summary(build_summary(net, batch=batch, dtype=dtype, depth=depth, optimizer=optimizer))

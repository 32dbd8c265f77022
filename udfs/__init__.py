"""The Excel function catalogue: every clearquote capability as a ``CQ_*`` function.

``import udfs`` registers the catalogue and exposes each function under its desktop name
(``udfs.CQ_BLACK``, ...), callable with what Excel passes: scalars, ``None`` for blanks and
2-D lists for ranges. A bad element comes back as an :class:`~udfs.excel.XlError` in its
cell; a bad argument as a one-cell ``#VALUE!`` with the reason. ``udfs.CATALOGUE`` holds the
specs the hosts in ``addin`` build their Excel functions from.
"""

# Each module registers its functions on import; the order is the README's order of categories.
from udfs import options, surface, products, margin, xva, info  # noqa: F401, I001
from udfs.catalogue import CATALOGUE, Spec, safe
from udfs.excel import InputError, XlError

for _spec in CATALOGUE.values():
    globals()[_spec.desktop_name] = safe(_spec)

__all__ = ["CATALOGUE", "InputError", "Spec", "XlError", *(s.desktop_name for s in CATALOGUE.values())]

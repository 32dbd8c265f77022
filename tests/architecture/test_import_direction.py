"""The engine stays pure: ``pricing`` imports neither Excel libraries nor the upper layers."""

import subprocess
import sys


def test_pricing_imports_no_excel_library_nor_upper_layers() -> None:
    code = (
        "import sys, pricing, pricing.surface, pricing.structures, pricing.varswap, pricing.binomial;"
        "bad = [m for m in ('xlwings', 'openpyxl', 'udfs', 'addin', 'pandas') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"pricing imported {out.stdout.strip()}"

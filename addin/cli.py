"""The ``clearquote`` command line."""

from __future__ import annotations

import argparse
import sys

from pricing.errors import DataError, PricingInputError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clearquote", description="Cleared crypto-options RFQ pricing.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="price the bundled BTC chain: surface fit, var-swap, structures")
    demo.add_argument("--underlying", default="BTC", help="BTC or ETH (default BTC)")
    demo.add_argument("--as-of", default="2025-12-31", help="bundled snapshot: 2025-12-31 or 2026-08-21")
    demo.add_argument("--model", default="svi", help="smile model: svi or sabr")
    sub.add_parser("xva-example", help="the source article's $568,800 quote, then the same RFQ by the full models")
    sub.add_parser("margin-example", help="the source article's ratio call spread under every margin model")
    bench = sub.add_parser("bench", help="time the pricing kernels beside QuantLib and plain numpy")
    bench.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from addin.demo import run_demo

            print(run_demo(args.underlying, args.as_of, args.model))
        elif args.command == "xva-example":
            from addin.xva_example import run_xva_example

            print(run_xva_example())
        elif args.command == "margin-example":
            from addin.margin_example import run_margin_example

            print(run_margin_example())
        elif args.command == "bench":
            from addin.bench import run_bench

            run_bench(quick=args.quick, as_json=args.json)
    except (PricingInputError, DataError) as exc:
        print(f"clearquote: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""`make bench` / `python -m bench [--baseline FILE] [--records N]`.

Writes bench/results/<time>.json and bench/results/latest.json; with a baseline,
prints each ratio beside the baseline's, because ratios survive a noisy machine
and absolute seconds do not.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import crypto, intake, matching, matching_worker, notifier, producer
from deploy.local.broker import BrokerConfig, answers_metadata, start, stop
from shared.kafka import ensure_topics
from shared.settings import KafkaSettings

RESULTS = Path(__file__).resolve().parent / "results"


def _ratios(result: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Every `ratio_*` figure in a (nested) result, by dotted path."""
    found: dict[str, float] = {}
    for key, value in result.items():
        if isinstance(value, dict):
            found |= _ratios(value, f"{prefix}{key}.")
        elif key.startswith("ratio_"):
            found[f"{prefix}{key}"] = float(value)
    return found


def compare(current: dict[str, Any], baseline: dict[str, Any]) -> str:
    """A side-by-side table of ratios: baseline, current, and current/baseline."""
    rows = [f"{'ratio':<52} {'baseline':>9} {'current':>9} {'change':>7}"]
    base = _ratios(baseline)
    for name, value in _ratios(current).items():
        old = base.get(name)
        change = f"{value / old:>6.2f}x" if old else "    new"
        rows.append(f"{name:<52} {old if old else float('nan'):>9.3f} {value:>9.3f} {change}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", type=Path, default=Path("bench/baseline.json"))
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--only", default=None,
                        choices=["producer", "intake", "crypto", "matching",
                                 "matching_worker", "notifier"])
    args = parser.parse_args(argv)
    config = BrokerConfig.from_env()
    started = False if answers_metadata(config, timeout_s=3) else start(config)
    try:
        # A fresh broker has no topics; the workers benchmarked here never declare them.
        ensure_topics(KafkaSettings(bootstrap_servers=config.bootstrap))
        result: dict[str, Any] = {
            "when": datetime.now(UTC).isoformat(), "machine": platform.platform(),
            "python": platform.python_version(),
        }
        if args.only in (None, "producer"):
            result["producer"] = producer.run(
                KafkaSettings(bootstrap_servers=config.bootstrap), config, args.records)
        if args.only in (None, "crypto"):
            result["crypto"] = {
                "per_event": crypto.per_event(),
                "pipeline": crypto.pipeline(KafkaSettings(bootstrap_servers=config.bootstrap)),
            }
        if args.only in (None, "matching"):
            result["matching"] = matching.run()
        if args.only in (None, "matching_worker"):
            result["matching_worker"] = matching_worker.run(
                KafkaSettings(bootstrap_servers=config.bootstrap))
        if args.only in (None, "notifier"):
            result["notifier"] = notifier.run(KafkaSettings(bootstrap_servers=config.bootstrap))
        if args.only in (None, "intake"):
            result["intake"] = intake.run(config.bootstrap, args.requests)
    finally:
        if started:
            stop(config)
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(result, indent=2)
    (RESULTS / f"{result['when'][:19].replace(':', '')}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    print(text)
    if args.baseline.exists():
        print("\n" + compare(result, json.loads(args.baseline.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

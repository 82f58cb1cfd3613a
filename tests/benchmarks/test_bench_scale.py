"""``benchmarks/bench_scale.py`` runs every step at a tiny size and checks the export's memory.

Figures and targets are the script's business; here only that it works end to end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_scale_reports_every_step_at_two_sizes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_scale.py", "--clients", "300", "600",
         "--train-max-clients", "1", "--workdir", str(tmp_path), "--no-check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for label in ("data generate", "data import", "features materialize", "nbo export --all (csv)",
                  "nbo export --all (parquet)"):  # fmt: skip
        assert out.count(label) == 2, (label, out)
    assert out.count("train --model ease") == 1  # the larger size exports with that model
    assert "export csv peak RSS 600 / 300 clients" in out
    assert not list(tmp_path.iterdir())  # the data directories are removed

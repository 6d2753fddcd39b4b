"""Run checkov's Kubernetes checks (graph checks included) on one manifest file and print
the outcome as JSON. A script rather than the `checkov` command: it imports only the
Kubernetes runner, which takes about half the time of the full command line.

    python tests/deploy/checkov_k8s.py rendered.yaml CKV_A,CKV_B
"""

from __future__ import annotations

import json
import sys

from checkov.kubernetes.runner import Runner
from checkov.runner_filter import RunnerFilter


def main(path: str, skips: str) -> None:
    skipped = [s for s in skips.split(",") if s]
    report = Runner().run(
        root_folder=None,
        files=[path],
        runner_filter=RunnerFilter(framework=["kubernetes"], skip_checks=skipped),
    )
    failed = [
        {"check": c.check_id, "name": c.check_name, "resource": c.resource}
        for c in report.failed_checks
    ]
    print(json.dumps({"passed": len(report.passed_checks), "failed": failed}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")

"""The eval suite: datasets, deterministic metrics, a runner and reports.

    from assistant import build_chain
    from assistant.evals import load_cases, run_eval, check_thresholds
    report = run_eval(build_chain(), load_cases("evals/kyphoplasty.yaml"))
    print(report["summary"])
"""

from assistant.evals.dataset import Case, load_cases
from assistant.evals.metrics import Verdict, evaluate, supports
from assistant.evals.runner import check_thresholds, compare, run_cli, run_eval

__all__ = ["Case", "Verdict", "check_thresholds", "compare", "evaluate", "load_cases", "run_cli", "run_eval",
           "supports"]

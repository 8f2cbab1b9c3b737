"""Print how long every page of the course app takes under AppTest (goal: ≤1 s once warm).

Runs on the default learner dataset (config defaults) and on a company of about one million AI
events. Each page is timed twice: cold (first visit, caches empty) and warm (the next rerun).
Usage: python benchmarks/app.py [--big-employees 1300] [--skip-big]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.modules.setdefault("rfc3987_syntax", None)   # as course/app.py does: skip a slow grammar build

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "course" / "app.py")
STATIC_PAGES = ["app_pages/home.py", "app_pages/capstone.py", "app_pages/my_learning.py",
                "app_pages/signin.py"]


def _timed_run(at) -> float:
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"page raised: {at.exception[0].value}")
    return elapsed


def bench(employees: int | None, days: int | None, label: str) -> None:
    from streamlit.testing.v1 import AppTest
    from streamlit.util import calc_hash

    from course.modules import content_dir_from_env, load_modules, score_answer

    with tempfile.TemporaryDirectory() as home:
        os.environ["THEATER_HOME"] = home
        os.environ.setdefault("THEATER_STAFF_PASSWORD", "benchmark")
        if employees:
            Path(home, "config.yaml").write_text(f"employees: {employees}\ndays: {days}\n")
        at = AppTest.from_file(APP, default_timeout=600)
        start = time.perf_counter()
        at.run()
        first = time.perf_counter() - start
        [t for t in at.text_input if t.label == "Learner id"][0].input("bench")
        [b for b in at.button if b.label == "Sign in"][0].click()
        sign_in = _timed_run(at)
        from course.app_pages import common

        company = common.get_company("bench")
        events = len(company.ai_events)
        print(f"\n{label}: {len(company.employees):,} employees, {events:,} AI events")
        print(f"  first start (default dataset prepared): {first:6.2f} s")
        print(f"  sign-in (company generated + cached):   {sign_in:6.2f} s")
        print(f"  {'page':<42}{'cold':>8}{'warm':>8}{'charts shown':>14}{'warm':>8}")
        modules, _ = load_modules(content_dir_from_env())
        targets = [(p, None) for p in STATIC_PAGES] + [("app_pages/module.py", m) for m in modules]
        for page, module in targets:
            at.switch_page(page)
            if module is not None:
                at._page_hash = calc_hash(f"module-{module.id}")
            cold = _timed_run(at)
            warm = _timed_run(at)
            name = page if module is None else f"module {module.number}: {module.id}"
            revealed = ""
            if module is not None:   # commit every prediction and quiz so all charts/simulators show
                answers = dict(at.session_state["_answers"]) if "_answers" in at.session_state else {}
                for question in module.all_questions():
                    for kind in ("prediction", "quiz"):
                        answers[f"{kind}:{module.id}:{question.id}"] = (
                            question.answer, score_answer(question, question.answer))
                at.session_state["_answers"] = answers
                shown_cold = _timed_run(at)
                shown_warm = _timed_run(at)
                revealed = f"{shown_cold:14.2f}{shown_warm:8.2f}"
                warm = max(warm, shown_warm)
            flag = "" if warm <= 1.0 else "  (over the 1 s goal)"
            print(f"  {name:<42}{cold:8.2f}{warm:8.2f}{revealed}{flag}")
        print(f"  {'chart builder (uncached)':<42}{'time':>8}")
        from course.charts import CHARTS

        for chart_id, build in CHARTS.items():
            start = time.perf_counter()
            build(company)
            print(f"  {chart_id:<42}{time.perf_counter() - start:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-employees", type=int, default=1300,
                        help="employees in the large company (1300 × 180 days ≈ 1M events)")
    parser.add_argument("--big-days", type=int, default=180)
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    bench(None, None, "default dataset")
    if not args.skip_big:
        bench(args.big_employees, args.big_days, "large company")


if __name__ == "__main__":
    main()

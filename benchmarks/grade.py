"""Grading speed: plain `nbgrader autograde` (sequential, no sandbox) against `grade()` (sandboxed) in
this process, on the embedded Dask LocalCluster and on an external `dask scheduler` with workers.

Builds a throw-away course with a class of submissions of `detect` — right (the reference
solution), wrong (a fixed guess that passes the notebook's shape checks) and broken (invalid
JSON, an answer cell that raises, an emptied notebook) — grades it every way in the same run and
prints the times, notebooks per second, each engine's startup cost and where the scores agree.
The learner's data is placed beside each submission too, because plain nbgrader runs the
notebook where it was submitted.

The LocalCluster also grades once more with the kept truths removed (grader.truth_cache), so
each worker regenerates the learner's company as it did before they were kept.

    .venv/bin/python benchmarks/grade.py [--learners 40] [--workers 2] [--employees 60] [--days 120]
                                         [--skip-nbgrader] [--skip-serial]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.assign import assign  # noqa: E402
from grader.course_dir import gradebook, init_course  # noqa: E402
from grader.cluster import dask_client  # noqa: E402
from grader.grade import grade  # noqa: E402
from grader import truth_cache  # noqa: E402

SOURCE = ROOT / "exercises" / "source" / "detect" / "detect.ipynb"
WRONG_IDS = ["E00001", "E00002", "E00003", "E00004", "E00005", "E00006"]


def _answer_cell(nb: dict) -> dict:
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "part3-detector")


def wrong_notebook(release: dict) -> dict:
    nb = json.loads(json.dumps(release))
    cell = _answer_cell(nb)
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    cell["source"] = source.replace("# YOUR CODE HERE", f"flagged = {WRONG_IDS!r}")
    return nb


def broken_submission(release: dict, kind: int) -> bytes:
    if kind == 0:
        return b'{"cells": [ this is not json'
    nb = json.loads(json.dumps(release))
    if kind == 1:
        _answer_cell(nb)["source"] = "raise RuntimeError('I give up')"
    else:
        nb["cells"] = []
    return json.dumps(nb).encode()


def build_class(workdir: Path, learners: int, employees: int, days: int) -> tuple[Path, dict[str, str]]:
    root = workdir / "course"
    course = init_course(root, data={"employees": employees, "days": days})
    ids = [f"learner{i:03d}" for i in range(learners)]
    roster = workdir / "roster.csv"
    roster.write_text("id,first_name,last_name,email\n" + "".join(f"{i},A,B,{i}@example.org\n" for i in ids))
    started = time.monotonic()
    assign(course, "detect", roster, progress=True)
    print(f"released {learners} datasets in {time.monotonic() - started:.1f} s")
    release = json.loads((root / "release" / "detect" / "detect.ipynb").read_text())
    kinds = {}
    for index, learner in enumerate(ids):
        target = root / "submitted" / learner / "detect"
        target.mkdir(parents=True)
        shutil.copytree(root / "outbound" / learner / "detect" / "data", target / "data")
        kind = ("right", "wrong", "broken")[index % 3]
        kinds[learner] = kind
        if kind == "right":
            shutil.copy(SOURCE, target / "detect.ipynb")
        elif kind == "wrong":
            (target / "detect.ipynb").write_text(json.dumps(wrong_notebook(release)))
        else:
            (target / "detect.ipynb").write_bytes(broken_submission(release, (index // 3) % 3))
    return root, kinds


def run_nbgrader(root: Path) -> float:
    nbgrader = Path(sys.executable).parent / "nbgrader"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.monotonic()
    done = subprocess.run([str(nbgrader), "autograde", "detect", "--force"], cwd=root, env=env,
                          capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        print(f"nbgrader autograde exited {done.returncode} (it reports failed submissions this way)")
    return seconds


def gradebook_scores(course_root: Path, learners: list[str]) -> dict[str, float | None]:
    from grader.course_dir import open_course

    scores: dict[str, float | None] = {}
    with gradebook(open_course(course_root)) as gb:
        for learner in learners:
            try:
                scores[learner] = float(gb.find_submission("detect", learner).score)
            except Exception:  # noqa: BLE001 - nbgrader never graded it
                scores[learner] = None
    return scores


def local_cluster_startup(workers: int, jobs: int) -> float:
    """Seconds until the embedded LocalCluster's workers are up and have imported the grader."""
    started = time.monotonic()
    with dask_client(workers, jobs, None) as client:
        client.run(__import__, "grader.worker")
        return time.monotonic() - started


class ExternalCluster:
    """`dask scheduler` and `dask worker` processes on localhost, as an instructor would start them."""

    def __init__(self, workers: int, logs: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        dask = str(Path(sys.executable).parent / "dask")
        started = time.monotonic()
        self.processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                            "--no-dashboard", "--dashboard-address", "127.0.0.1:0"], stdout=open(logs / "scheduler.log", "wb"),
                                           stderr=subprocess.STDOUT, start_new_session=True)]
        for index in range(workers):
            self.processes.append(subprocess.Popen(
                [dask, "worker", self.address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
                stdout=open(logs / f"worker-{index}.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True))
        from distributed import Client

        while True:
            try:
                client = Client(self.address, timeout=5)
                break
            except OSError:
                time.sleep(0.2)
        client.wait_for_workers(workers, timeout=300)
        client.run(__import__, "grader.worker")
        client.close()
        self.startup = time.monotonic() - started

    def close(self) -> None:
        for process in self.processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def timed_grade(root: Path, label: str, **options) -> tuple[float, dict[str, float], object]:
    started = time.monotonic()
    report = grade(root, "detect", progress=False, force=True, **options)
    seconds = time.monotonic() - started
    print(f"graded: {label}: {seconds:.1f} s")
    return seconds, {k: g.score for k, g in report.learners.items()}, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--employees", type=int, default=60)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--skip-nbgrader", action="store_true", help="leave out plain nbgrader (the slowest)")
    parser.add_argument("--skip-serial", action="store_true", help="leave out grading in this process alone")
    args = parser.parse_args()
    runs: dict[str, tuple[float, dict[str, float], object]] = {}
    with tempfile.TemporaryDirectory(prefix="theater-bench-grade-") as tmp:
        root, kinds = build_class(Path(tmp), args.learners, args.employees, args.days)
        learners = sorted(kinds)

        plain_seconds, plain = None, None
        if not args.skip_nbgrader:
            plain_seconds = run_nbgrader(root)
            plain = gradebook_scores(root, learners)

        if not args.skip_serial:
            runs["this process, one at a time"] = timed_grade(root, "serial", workers=1)
        local_startup = local_cluster_startup(args.workers, args.learners)
        runs[f"LocalCluster, {args.workers} workers"] = timed_grade(root, "LocalCluster", workers=args.workers)
        shutil.rmtree(root / ".theater" / truth_cache.FOLDER, ignore_errors=True)   # as before the truths were kept
        runs[f"LocalCluster, {args.workers}, regenerating"] = timed_grade(
            root, "LocalCluster, each company regenerated", workers=args.workers)
        logs = Path(tmp) / "dask-logs"
        logs.mkdir()
        cluster = ExternalCluster(args.workers, logs)
        try:
            runs[f"external scheduler, {args.workers} workers"] = timed_grade(
                root, "external", scheduler=cluster.address)
        finally:
            cluster.close()

    startups = {f"LocalCluster, {args.workers} workers": local_startup,
                f"external scheduler, {args.workers} workers": cluster.startup}
    print(f"\n{args.learners} submissions ({args.employees} employees, {args.days} days each)")
    if plain_seconds is not None:
        print(f"plain nbgrader autograde (sequential, no sandbox): {plain_seconds:7.1f} s, "
              f"{args.learners / plain_seconds:.2f} notebooks/s")
    print(f"{'engine':36s} {'total s':>8s} {'nb/s':>6s} {'startup s':>10s}  (startup: workers up and the grader imported)")
    for label, (seconds, _scores, report) in runs.items():
        startup = startups.get(label)
        shown = f"{startup:10.1f}" if startup is not None else f"{'0':>10s}"
        print(f"{label:36s} {seconds:8.1f} {args.learners / seconds:6.2f} {shown}  isolation: {report.isolation}")
    reference = next(iter(runs.values()))[1]
    for label, (_seconds, scores, report) in runs.items():
        same = sum(abs(scores[k] - reference[k]) < 1e-9 for k in learners)
        print(f"  {label}: scores identical to the first engine for {same}/{len(learners)}; "
              f"errors {len(report.errors)}")
        for learner, failed in list(report.errors.items())[:3]:
            print(f"    {learner}: {'; '.join(failed.comments)}")
    if plain is not None:
        ours_seconds, ours, _report = runs[f"LocalCluster, {args.workers} workers"]
        print(f"ratio nbgrader / LocalCluster: {plain_seconds / ours_seconds:.2f}x faster (goal >= 3x); "
              f"regenerating each company instead of reading its kept truths: "
              f"{plain_seconds / runs[f'LocalCluster, {args.workers}, regenerating'][0]:.2f}x")
        for kind in ("right", "wrong", "broken"):
            group = [k for k in learners if kinds[k] == kind]
            agree = sum(plain[k] is not None and abs(plain[k] - ours[k]) < 1e-6 for k in group)
            plain_mean = sum(plain[k] or 0 for k in group) / len(group)
            ours_mean = sum(ours[k] for k in group) / len(group)
            print(f"  {kind:6s}: scores agree for {agree}/{len(group)}; mean nbgrader {plain_mean:.2f}, "
                  f"ours {ours_mean:.2f}")
        print("  (nbgrader scores inside the learner's kernel: a wrong answer of the right shape passes its\n"
              "   checks; ours scores the answer against the learner's hidden truth outside the kernel)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

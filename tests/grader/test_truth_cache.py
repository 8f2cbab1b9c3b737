"""The graded truths kept beside the course: a release stores them, grading reads them instead of
regenerating the company, the scores are the same, and nothing stale, damaged or learner-visible
is ever used."""

from __future__ import annotations

import pickle
import shutil
import stat
from pathlib import Path

import pytest

from grader import truth_cache, worker
from grader.assign import assign
from grader.course_dir import init_course, learner_seed
from grader.grade import grade
from grader.sandbox import Limits

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "exercises" / "source" / "detect" / "detect.ipynb"
LIMITS = Limits(cell_timeout=30, notebook_timeout=90)
pytestmark = pytest.mark.slow


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    course = init_course(root, data={"employees": 40, "days": 60}, secret="truth-cache-test")
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name,last_name,email\nright,R,L,r@example.org\nblank,B,L,b@example.org\n")
    assign(course, "detect", roster)
    target = root / "submitted" / "right" / "detect"
    target.mkdir(parents=True)
    shutil.copy(SOURCE, target / "detect.ipynb")
    return course


def _entry(course, learner: str = "right") -> Path:
    return course.state_dir / truth_cache.FOLDER / "detect" / f"{learner}.pickle"


def _key(course, learner: str = "right") -> tuple:
    spec = course.assignment("detect")
    return truth_cache.cache_key(spec, course.data_spec(spec), learner_seed(course, learner))


def _no_company(monkeypatch) -> None:
    def refuse(*_args):
        raise AssertionError("a company was generated although its truths were kept")

    monkeypatch.setattr(worker, "_company", refuse)


def _scores(report) -> dict:
    return {name: (entry.score, entry.status) for name, entry in report.learners.items()}


def test_a_release_keeps_each_learners_truths_privately_and_outside_every_release(course):
    spec = course.assignment("detect")
    for learner in ("right", "blank"):
        entry = _entry(course, learner)
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600
        assert truth_cache.load(course.state_dir, spec, learner, _key(course, learner)) is not None
    released = [p for p in (course.root / "outbound").rglob("*") if p.is_file()]
    assert released and not any("truth" in p.name or p.suffix == ".pickle" for p in released)
    assert course.state_dir in _entry(course).parents


def test_the_first_grading_reads_the_released_truths_and_scores_as_a_regenerated_company_does(
        course, monkeypatch):
    with monkeypatch.context() as patch:
        _no_company(patch)
        kept = grade(course.root, "detect", workers=1, progress=False, limits=LIMITS)
    assert kept.learners["right"].score > 0
    shutil.rmtree(course.state_dir / truth_cache.FOLDER)
    regenerated = grade(course.root, "detect", workers=1, progress=False, limits=LIMITS, force=True)
    assert _scores(kept) == _scores(regenerated)


def test_a_grading_without_kept_truths_keeps_the_ones_it_computed(course, monkeypatch):
    shutil.rmtree(course.state_dir / truth_cache.FOLDER)
    first = grade(course.root, "detect", workers=1, progress=False, limits=LIMITS, learners=["right"])
    spec = course.assignment("detect")
    stored = truth_cache.load(course.state_dir, spec, "right", _key(course))
    assert stored is not None and set(pickle.loads(stored)) == set(truth_cache.truth_names(spec))
    _no_company(monkeypatch)
    again = grade(course.root, "detect", workers=1, progress=False, limits=LIMITS, learners=["right"], force=True)
    assert _scores(again) == _scores(first)


@pytest.mark.parametrize("spoil", ["another seed", "another generator", "damaged", "not a dict", "a truth missing"])
def test_a_stale_or_damaged_entry_is_ignored_and_the_company_regenerated(course, spoil):
    spec = course.assignment("detect")
    entry, key = _entry(course), _key(course)
    kept = pickle.loads(entry.read_bytes())
    if spoil == "another seed":
        kept["key"] = (key[0], key[1], key[2] + 1, key[3])
    elif spoil == "another generator":
        kept["key"] = ("0.0", *key[1:])
    elif spoil == "a truth missing":
        kept["truths"] = {}
    if spoil == "damaged":
        entry.write_bytes(entry.read_bytes()[:20])
    elif spoil == "not a dict":
        entry.write_bytes(pickle.dumps(["key", key]))
    else:
        entry.write_bytes(pickle.dumps(kept))
    assert truth_cache.load(course.state_dir, spec, "right", key) is None
    report = grade(course.root, "detect", workers=1, progress=False, limits=LIMITS, learners=["right"])
    assert report.learners["right"].status != "error" and report.learners["right"].score > 0
    assert truth_cache.load(course.state_dir, spec, "right", key) is not None   # written again, right


def test_a_company_whose_truth_is_undefined_is_released_without_kept_truths(tmp_path):
    """A tiny company can leave a wave with one squad: its effect has no interval, so its truth
    cannot be kept. The release still goes out (the grader reports the problem when it grades)."""
    from datasets.api import generate_company
    from exercises.truth import TruthError, measure_finding
    from grader.course_dir import write_learner_data

    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30}, secret="tiny")
    company = generate_company("mandate-bigco", 20, 30, 307)      # spillover, one squad in a wave
    with pytest.raises(TruthError, match="fewer than two units"):
        measure_finding(company)
    spec = course.assignment("measure")
    folder = write_learner_data(course, spec, "ada", tmp_path / "data", company=company, keep_truths=True)
    assert (folder / "employees.csv").exists() or any(folder.iterdir())
    assert not (course.state_dir / truth_cache.FOLDER / "measure" / "ada.pickle").exists()

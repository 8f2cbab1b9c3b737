"""Answers files are parsed by the grader outside the sandbox: under size, shape and nesting limits, with a clear message."""

from __future__ import annotations

import errno
import json
import os
import time

import pandas as pd
import pytest

from exercises.assignments import (
    ARTIFACT_LIMITS,
    ArtifactRejected,
    GradedPart,
    GraderReadError,
    load_artifact,
    load_assignment,
    read_artifact,
    SOURCE_DIR,
)
from grader.scoring import MISSING, score_submission


def _part(reader: str, artifact: str, key: str | None = None) -> GradedPart:
    return GradedPart("g", artifact, reader, "explore.weekly_usage_output", "weekly_usage_output", 6.0, key)


def _write(folder, relative: str, data: bytes) -> None:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_a_very_wide_csv_is_refused_unread_and_quickly(tmp_path):
    """The reported attack: 19 MB, 2.3 million columns (it took 519 s and 7.2 GB before)."""
    _write(tmp_path, "answers/weekly.csv", b"col," * 2_300_000 + b"col\n" + b"1.0," * 2_300_000 + b"1.0\n")
    started = time.monotonic()
    with pytest.raises(ArtifactRejected, match=r"answers/weekly.csv is 17.5 MB; the grader reads at most 5.0 MB"):
        load_artifact(tmp_path, _part("csv_frame", "answers/weekly.csv"))
    assert time.monotonic() - started < 5  # refused from its size alone (a wide margin for a slow machine)


def test_a_wide_csv_within_the_byte_cap_is_refused_by_its_column_count(tmp_path):
    _write(tmp_path, "answers/weekly.csv", b",".join(b"c%d" % i for i in range(300_000)) + b"\n")
    with pytest.raises(ArtifactRejected, match=r"has 300,000 columns; at most 64"):
        load_artifact(tmp_path, _part("csv_frame", "answers/weekly.csv"))


def test_quoted_commas_do_not_count_as_columns(tmp_path):
    header = ",".join(f'"week, team {i}"' for i in range(40)) + "\n"
    _write(tmp_path, "answers/weekly.csv", (header + ",".join(["1"] * 40) + "\n").encode())
    assert len(load_artifact(tmp_path, _part("csv_frame", "answers/weekly.csv")).columns) == 40


def test_a_long_csv_is_refused_by_its_row_count(tmp_path):
    rows = ARTIFACT_LIMITS.csv_rows + 1
    _write(tmp_path, "answers/weekly.csv", b"a\n" + b"1\n" * rows)
    with pytest.raises(ArtifactRejected, match=f"has {rows:,} rows; at most {ARTIFACT_LIMITS.csv_rows:,}"):
        load_artifact(tmp_path, _part("csv_frame", "answers/weekly.csv"))


def test_deeply_nested_json_is_refused_before_parsing(tmp_path):
    _write(tmp_path, "answers/flagged.json", b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(ArtifactRejected, match=r"nests lists or objects 200,000 deep; at most 32"):
        load_artifact(tmp_path, _part("json_set", "answers/flagged.json"))


def test_brackets_inside_strings_are_not_nesting(tmp_path):
    _write(tmp_path, "answers/flagged.json", json.dumps(["[" * 100 + '\\"', "E00001"]).encode())
    assert load_artifact(tmp_path, _part("json_set", "answers/flagged.json"))[1] == "E00001"


def test_a_large_json_file_is_refused_by_size(tmp_path):
    _write(tmp_path, "answers/flagged.json", json.dumps(["E00001"] * 300_000).encode())
    with pytest.raises(ArtifactRejected, match=r"answers/flagged.json is 2.9 MB; the grader reads at most 1.0 MB"):
        load_artifact(tmp_path, _part("json_set", "answers/flagged.json"))
    assert read_artifact(tmp_path, _part("json_set", "answers/flagged.json")) is None


def test_ordinary_answers_still_read(tmp_path):
    frame = pd.DataFrame({"week": ["2025-01-06"], "team": ["Payments"], "ai_events": [3],
                          "ai_users": [1], "closed_items": [2]})
    frame.to_csv(tmp_path / "weekly.csv", index=False)
    assert load_artifact(tmp_path, _part("csv_frame", "weekly.csv")).equals(frame)
    _write(tmp_path, "e.json", b'{"theater_share": 0.4, "effect": {"low": [1, 2]}}')
    assert load_artifact(tmp_path, _part("json_number", "e.json", "theater_share")) == 0.4


def test_the_learner_is_told_which_limit_their_answers_file_broke(tmp_path):
    explore = load_assignment(SOURCE_DIR / "explore")
    _write(tmp_path, "answers/weekly.csv", b",".join(b"c%d" % i for i in range(100_000)) + b"\n")
    truths = {part.truth: pd.DataFrame() for part in explore.graded}  # never reached: the file is refused first
    scores, answers = score_submission(explore, tmp_path, company=None, truth_cache=truths)
    score = scores["weekly_table"]
    assert score.points == 0 and answers["weekly_table"] is None
    assert score.message == "Not scored: answers/weekly.csv has 100,000 columns; at most 64."


# ---------------------------------------------------------------------------------------------
# a read the grading machine fails is a grader problem: retried, never the learner's 0


def _failing_open(code: int, times: int = 1_000_000):
    """`open` for exercises.assignments that fails like the machine would, the first `times` times."""
    calls = []

    def fake_open(*args, **kwargs):
        calls.append(args[0])
        if len(calls) <= times:
            raise OSError(code, os.strerror(code))
        return open(*args, **kwargs)
    return fake_open


def test_scoring_stops_on_a_machine_read_failure_instead_of_scoring_zero(tmp_path, monkeypatch):
    import exercises.assignments

    detect = load_assignment(SOURCE_DIR / "detect")
    _write(tmp_path, "answers/flagged.json", json.dumps(["E00001"]).encode())
    truths = {part.truth: {"E00001"} for part in detect.graded}
    monkeypatch.setattr(exercises.assignments, "open", _failing_open(errno.EMFILE), raising=False)
    with pytest.raises(GraderReadError, match=r"answers/flagged.json \(EMFILE: Too many open files\)"):
        score_submission(detect, tmp_path, company=None, truth_cache=truths)


def test_a_learners_malformed_answer_still_scores_as_missing_with_its_message(tmp_path):
    detect = load_assignment(SOURCE_DIR / "detect")
    _write(tmp_path, "answers/flagged.json", b'["E00001", ')
    truths = {part.truth: {"E00001"} for part in detect.graded}
    scores, answers = score_submission(detect, tmp_path, company=None, truth_cache=truths)
    score = scores["flagged_tokenmaxxers"]
    assert answers["flagged_tokenmaxxers"] is None and score.points == 0 and score.form == MISSING
    assert score.form_message.startswith("No answer was found, or its file could not be read")


@pytest.mark.slow
def test_theater_grade_names_the_learner_it_could_not_grade_writes_nothing_and_exits_non_zero(
        tmp_path, monkeypatch, capsys):
    """ada's answer cannot be read on the grading machine (EMFILE), bob's can: bob is graded, ada is
    named with the reason, nothing of hers reaches the gradebook, the command fails; the next run grades her."""
    import exercises.assignments
    from nbgrader.api import MissingEntry

    from grader.assign import Learner, assign
    from grader.course_dir import gradebook, init_course
    from tests.grader.hostile.corpus import NOTEBOOKS
    from theater.cli import main

    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    assign(course, "detect", [Learner("ada"), Learner("bob")])
    for learner in ("ada", "bob"):
        folder = course.path("submitted", learner, "detect")
        folder.mkdir(parents=True)
        (folder / "detect.ipynb").write_bytes((NOTEBOOKS / "baseline.ipynb").read_bytes())
    monkeypatch.setattr(exercises.assignments, "open", _failing_open(errno.EMFILE, times=1), raising=False)
    code = main(["grade", "detect", "--course", str(course.root), "--workers", "1", "--quiet"])
    out, err = capsys.readouterr()
    ada = next(line for line in out.splitlines() if line.strip().startswith("ada:"))
    bob = next(line for line in out.splitlines() if line.strip().startswith("bob:"))
    assert code != 0 and "1 failed" in out and "Traceback" not in out + err
    assert "NOT GRADED" in ada and "EMFILE" in ada and "grading machine" in ada and "retried" in ada, ada
    assert "/6 [graded" in bob, bob
    with gradebook(course) as gb:
        with pytest.raises(MissingEntry):
            gb.find_submission("detect", "ada")
        assert gb.find_submission("detect", "bob") is not None
    assert not course.path("autograded", "ada").exists()
    assert not (course.state_dir / "grading" / "detect" / "ada.json").exists()

    monkeypatch.undo()  # the machine is fixed: the next run grades ada and leaves bob as he was
    code = main(["grade", "detect", "--course", str(course.root), "--workers", "1", "--quiet"])
    out, _ = capsys.readouterr()
    assert code == 0 and "1 graded, 1 unchanged since last run, 0 failed" in out, out
    with gradebook(course) as gb:
        score = gb.find_submission("detect", "ada").score
    assert f"ada: {score:g}/6 [graded" in out, out
    assert (course.state_dir / "grading" / "detect" / "ada.json").is_file()

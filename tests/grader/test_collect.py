"""Collecting submissions into nbgrader's layout from folders and LMS zips, losing nothing."""

from __future__ import annotations

import json
import os
import shutil
import time
import zipfile

import nbformat
import pytest

from grader.collect import CollectError, collect
from grader.course_dir import gradebook, init_course


def _notebook(marker: str) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"answer = {marker!r}")]
    return nbformat.writes(nb).encode()


def _marker(path) -> str:
    return nbformat.read(path, as_version=4).cells[0].source


@pytest.fixture
def course(tmp_path):
    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    with gradebook(course) as gb:
        gb.update_or_create_student("ada", first_name="Ada", last_name="Lovelace", lms_user_id="5001")
        gb.update_or_create_student("bob", first_name="Bob", last_name="Builder")
        gb.update_or_create_student("cyd", first_name="Cyd", last_name="Charisse")
    return course


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def test_canvas_zip_latest_attempt_wins_and_unmatched_are_reported(course, tmp_path):
    source = _zip(tmp_path / "submissions.zip", {
        "lovelaceada_5001_11_detect.ipynb": _notebook("ada first"),
        "lovelaceada_5001_12_detect-1.ipynb": _notebook("ada second"),
        "builderbob_LATE_7002_31_detect.ipynb": _notebook("bob by name"),
        "strangerdanger_9999_1_detect.ipynb": _notebook("who?"),
        "charissecyd_8003_1_notes.pdf": b"%PDF",
    })
    report = collect(course, source, "detect")
    assert sorted(report.collected) == ["ada", "bob"]
    assert _marker(course.path("submitted", "ada", "detect", "detect.ipynb")) == "answer = 'ada second'"
    assert _marker(course.path("submitted", "bob", "detect", "detect.ipynb")) == "answer = 'bob by name'"
    assert report.unmatched == ["strangerdanger_9999_1_detect.ipynb"]
    reasons = dict(report.skipped)
    assert reasons["charissecyd_8003_1_notes.pdf"] == "not a notebook"
    assert "earlier attempt of ada" in reasons["lovelaceada_5001_11_detect.ipynb"]
    assert "2 unmatched" not in report.summary() and "1 unmatched" in report.summary()


def test_submission_is_stored_with_nbgraders_timestamp(course, tmp_path):
    from nbgrader.utils import parse_utc

    collect(course, _zip(tmp_path / "s.zip", {"lovelaceada_5001_1_x.ipynb": _notebook("a")}), "detect")
    stamp = course.path("submitted", "ada", "detect", "timestamp.txt").read_text()
    assert parse_utc(stamp).year >= 1980


def test_zip_slip_members_cannot_escape(course, tmp_path):
    source = _zip(tmp_path / "evil.zip", {
        "../../../escaped.ipynb": _notebook("evil"),
        "/abs/ada/detect.ipynb": _notebook("absolute path"),
        "bob/../../cyd.ipynb": _notebook("dotdot"),
    })
    report = collect(course, source, "detect")
    assert not (tmp_path / "escaped.ipynb").exists() and not (course.root.parent / "escaped.ipynb").exists()
    written = {p.relative_to(course.root).as_posix() for p in course.root.rglob("*.ipynb")}
    assert all(p.startswith(("source/", "submitted/")) for p in written)
    assert set(report.collected) <= {"ada", "bob", "cyd"}
    assert "../../../escaped.ipynb" in report.unmatched


def test_folders_per_learner_and_nbgrader_layout_are_collected(course, tmp_path):
    source = tmp_path / "inbox"
    (source / "ada").mkdir(parents=True)
    (source / "ada" / "whatever-name.ipynb").write_bytes(_notebook("ada folder"))
    (source / "bob" / "detect").mkdir(parents=True)
    (source / "bob" / "detect" / "detect.ipynb").write_bytes(_notebook("bob nbgrader"))
    (source / "bob" / "detect" / "timestamp.txt").write_text("2026-03-01 12:00:00.000000 UTC")
    (source / "cyd.ipynb").write_bytes(_notebook("cyd loose"))
    (source / "ada" / "scratch.py").write_text("print('hi')")
    report = collect(course, source, "detect")
    assert sorted(report.collected) == ["ada", "bob", "cyd"]
    assert course.path("submitted", "bob", "detect", "timestamp.txt").read_text().startswith("2026-03-01 12:00:00")
    assert ("ada/scratch.py", "not a notebook") in report.skipped


def test_symlinks_in_a_submission_folder_are_not_followed(course, tmp_path):
    source = tmp_path / "inbox"
    (source / "ada").mkdir(parents=True)
    (source / "ada" / "detect.ipynb").symlink_to(course.secret_path)
    report = collect(course, source, "detect")
    assert report.collected == {}
    assert ("ada/detect.ipynb", "a symbolic link") in report.skipped


def test_invalid_notebook_is_collected_with_a_warning_so_it_grades_with_a_comment(course, tmp_path):
    source = tmp_path / "inbox"
    (source / "ada").mkdir(parents=True)
    (source / "ada" / "detect.ipynb").write_text("{ this is not json")
    report = collect(course, source, "detect")
    assert "ada" in report.collected
    assert report.warnings and "not a valid notebook" in report.warnings[0]


def test_an_older_submission_never_replaces_a_newer_one(course, tmp_path):
    newer = tmp_path / "newer"
    (newer / "ada").mkdir(parents=True)
    (newer / "ada" / "detect.ipynb").write_bytes(_notebook("newer"))
    older = tmp_path / "older"
    (older / "ada").mkdir(parents=True)
    (older / "ada" / "detect.ipynb").write_bytes(_notebook("older"))
    past = time.time() - 86400
    os.utime(older / "ada" / "detect.ipynb", (past, past))
    collect(course, newer, "detect")
    report = collect(course, older, "detect")
    assert report.collected == {}
    assert _marker(course.path("submitted", "ada", "detect", "detect.ipynb")) == "answer = 'newer'"


def test_collect_again_replaces_with_a_newer_attempt(course, tmp_path):
    collect(course, _zip(tmp_path / "a.zip", {"x_5001_1_detect.ipynb": _notebook("one")}), "detect")
    collect(course, _zip(tmp_path / "b.zip", {"x_5001_2_detect.ipynb": _notebook("two")}), "detect")
    assert _marker(course.path("submitted", "ada", "detect", "detect.ipynb")) == "answer = 'two'"
    assert [p.name for p in course.path("submitted", "ada").iterdir()] == ["detect"]


def test_unreadable_sources_are_clear_errors(course, tmp_path):
    with pytest.raises(CollectError, match="no such file"):
        collect(course, tmp_path / "missing.zip", "detect")
    bogus = tmp_path / "not.zip"
    bogus.write_text("hello")
    with pytest.raises(CollectError, match="folder of submissions or a .zip"):
        collect(course, bogus, "detect")


def test_summary_lists_what_happened(course, tmp_path):
    report = collect(course, _zip(tmp_path / "s.zip", {"nobody_1_1_x.ipynb": _notebook("x")}), "detect")
    assert report.summary() == "detect: collected 0 submission(s); 1 unmatched: nobody_1_1_x.ipynb"
    json.dumps(report.skipped)


def _corrupt_member(path, name: str) -> None:
    """Flip bytes in the middle of one member's compressed data."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for offset in range(start + 5, start + min(info.compress_size - 2, 40)):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_one_corrupt_member_is_reported_and_the_rest_are_collected(course, tmp_path):
    source = tmp_path / "submissions.zip"
    with zipfile.ZipFile(source, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ada/detect.ipynb", _notebook("ada " * 200))
        archive.writestr("bob/detect.ipynb", _notebook("bob " * 200))
        archive.writestr("cyd/detect.ipynb", _notebook("cyd " * 200))
    _corrupt_member(source, "bob/detect.ipynb")
    report = collect(course, source, "detect")
    assert sorted(report.collected) == ["ada", "cyd"]
    reasons = dict(report.skipped)
    assert "corrupt zip member" in reasons["bob/detect.ipynb"]
    assert not course.path("submitted", "bob").exists()
    assert "bob/detect.ipynb (a corrupt zip member" in report.summary()


def test_a_corrupt_latest_attempt_falls_back_to_the_earlier_readable_one(course, tmp_path):
    source = tmp_path / "submissions.zip"
    with zipfile.ZipFile(source, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("lovelaceada_5001_11_detect.ipynb", _notebook("ada first " * 50))
        archive.writestr("lovelaceada_5001_12_detect.ipynb", _notebook("ada second " * 50))
    _corrupt_member(source, "lovelaceada_5001_12_detect.ipynb")
    report = collect(course, source, "detect")
    assert _marker(course.path("submitted", "ada", "detect", "detect.ipynb")).startswith("answer = 'ada first")
    assert "corrupt" in dict(report.skipped)["lovelaceada_5001_12_detect.ipynb"]


def test_a_member_whose_header_understates_its_size_is_not_collected(course, tmp_path, monkeypatch):
    import struct

    from grader import collect as collect_module

    monkeypatch.setattr(collect_module, "MAX_NOTEBOOK_BYTES", 1024 * 1024)
    source = tmp_path / "bomb.zip"
    with zipfile.ZipFile(source, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ada/detect.ipynb", b"{" + b" " * (8 * 1024 * 1024) + b"}")
        archive.writestr("cyd/detect.ipynb", _notebook("cyd"))
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo("ada/detect.ipynb")
    struct.pack_into("<I", data, info.header_offset + 22, 1000)  # local header: uncompressed size
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1000)  # central directory: uncompressed size
    source.write_bytes(bytes(data))
    report = collect(course, source, "detect")
    assert sorted(report.collected) == ["cyd"]
    assert "ada/detect.ipynb" in dict(report.skipped)


def test_the_size_limit_counts_inflated_bytes_not_the_header(monkeypatch):
    import io

    from grader import collect as collect_module

    monkeypatch.setattr(collect_module, "MAX_NOTEBOOK_BYTES", 3 * 1024 * 1024)
    with pytest.raises(collect_module._UnreadableMember, match="larger than 50 MB"):
        collect_module._read_limited(io.BytesIO(b"x" * (3 * 1024 * 1024 + 1)))
    assert len(collect_module._read_limited(io.BytesIO(b"x" * (3 * 1024 * 1024)))) == 3 * 1024 * 1024


def test_symlink_members_of_a_zip_are_refused_and_reported(course, tmp_path):
    import stat

    source = tmp_path / "links.zip"
    with zipfile.ZipFile(source, "w") as archive:
        link = zipfile.ZipInfo("ada/detect.ipynb")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("bob/detect.ipynb", _notebook("bob"))
    report = collect(course, source, "detect")
    assert sorted(report.collected) == ["bob"]
    assert dict(report.skipped)["ada/detect.ipynb"] == "a symbolic link"


def test_a_killed_collection_leaves_no_half_written_submission(course, tmp_path):
    source = _zip(tmp_path / "s.zip", {"ada/detect.ipynb": _notebook("ada new")})
    target = course.path("submitted", "ada", "detect")
    target.mkdir(parents=True)
    (target / "detect.ipynb").write_bytes(_notebook("ada old"))
    stale = target.parent / ".detect.tmp-killed"
    stale.mkdir()
    (stale / "detect.ipynb").write_bytes(b"{half")
    collect(course, source, "detect")
    assert _marker(target / "detect.ipynb") == "answer = 'ada new'"
    assert sorted(p.name for p in target.parent.iterdir()) == ["detect"]


# ----------------------------------------------------------------------------- Canvas names and times

DUE = "2026-12-05 17:00:00 UTC"
DOWNLOADED = (2026, 12, 6, 19, 54, 0)  # Canvas writes every member with the time of the download


def _with_due(course):
    from grader.course_dir import open_course

    with open(course.root / "theater.toml", "a") as handle:
        handle.write(f'\n[assignments.detect]\ndue = "{DUE}"\n')
    return open_course(course.root)


def _canvas_zip(path, members: dict[str, bytes], utf8_flag: bool = True):
    """A zip as Canvas's download: every member stamped with the download time; rubyzip may store
    UTF-8 names without the zip's UTF-8 flag (`utf8_flag=False`)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=DOWNLOADED), content)
    if not utf8_flag:
        data = bytearray(path.read_bytes())
        for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            at = data.find(signature)
            while at >= 0:
                flags = int.from_bytes(data[at + offset:at + offset + 2], "little") & ~0x800
                data[at + offset:at + offset + 2] = flags.to_bytes(2, "little")
                at = data.find(signature, at + 4)
        path.write_bytes(bytes(data))
        with zipfile.ZipFile(path) as archive:
            assert not any(i.flag_bits & 0x800 for i in archive.infolist())
    return path


@pytest.mark.parametrize("utf8_flag", [True, False], ids=["utf8-flag", "rubyzip-no-flag"])
def test_a_canvas_name_in_any_script_is_matched_by_the_lms_user_id(course, tmp_path, utf8_flag):
    with gradebook(course) as gb:
        gb.update_or_create_student("dmueller", first_name="Zoë", last_name="Müller-Łukasiewicz",
                                    lms_user_id="70104")
    name = "müllerłukasiewiczzoë_70104_90028_detect (1).ipynb"
    report = collect(course, _canvas_zip(tmp_path / "s.zip", {name: _notebook("zoë")}, utf8_flag), "detect")
    assert report.unmatched == [] and list(report.collected) == ["dmueller"]
    assert _marker(course.path("submitted", "dmueller", "detect", "detect.ipynb")) == "answer = 'zoë'"


def test_a_canvas_name_in_any_script_is_matched_by_name_without_an_lms_id(course, tmp_path):
    with gradebook(course) as gb:
        gb.update_or_create_student("zoe", first_name="Zoë", last_name="Müller-Łukasiewicz")
        gb.update_or_create_student("zoe2", first_name="Zoe", last_name="Muller-Lukasiewicz")
    report = collect(course, _canvas_zip(tmp_path / "s.zip", {
        "müllerłukasiewiczzoë_70104_90028_detect.ipynb": _notebook("one"),
        "mullerlukasiewiczzoe_70105_90029_detect.ipynb": _notebook("two"),
    }), "detect")
    assert report.unmatched == [] and sorted(report.collected) == ["zoe", "zoe2"]  # no folding of ë into e
    assert _marker(course.path("submitted", "zoe", "detect", "detect.ipynb")) == "answer = 'one'"


def _stamp(course, learner):
    from grader.review import submission_time

    return submission_time(course.path("submitted", learner, "detect"))


def test_canvas_lateness_comes_from_the_late_token_never_from_the_download_time(course, tmp_path):
    from datetime import UTC, datetime, timedelta

    course = _with_due(course)
    report = collect(course, _canvas_zip(tmp_path / "s.zip", {
        "lovelaceada_5001_11_detect.ipynb": _notebook("on time"),
        "builderbob_LATE_7002_31_detect.ipynb": _notebook("late"),
    }), "detect")
    due = datetime(2026, 12, 5, 17, tzinfo=UTC)
    assert sorted(report.collected) == ["ada", "bob"]
    assert _stamp(course, "ada") <= due  # downloaded after the due date, but Canvas says on time
    assert _stamp(course, "bob") == due + timedelta(seconds=1)
    assert any("LATE (bob)" in w and "one day late" in w for w in report.warnings)
    assert not any("same file time" in w for w in report.warnings)


def test_a_late_canvas_submission_pays_the_courses_late_penalty(course, tmp_path):
    from grader.export import PercentPerDayLate

    course = _with_due(course)
    collect(course, _canvas_zip(tmp_path / "s.zip", {"builderbob_LATE_7002_31_detect.ipynb": _notebook("x"),
                                                      "lovelaceada_5001_11_detect.ipynb": _notebook("y")}), "detect")
    from grader.review import due_date

    due = due_date(course, "detect")
    late = (_stamp(course, "bob") - due).total_seconds()
    assert PercentPerDayLate().late_submission_penalty("bob", 6.0, late) == pytest.approx(0.6)
    assert (_stamp(course, "ada") - due).total_seconds() <= 0


def test_late_tokens_without_a_due_date_say_so(course, tmp_path):
    report = collect(course, _canvas_zip(tmp_path / "s.zip", {"builderbob_LATE_7002_31_detect.ipynb": _notebook("x")}),
                     "detect")
    assert any("has no due date" in w and "[assignments.detect]" in w for w in report.warnings)


def test_a_folder_whose_files_all_carry_one_time_after_the_due_date_is_warned_about(course, tmp_path):
    course = _with_due(course)
    source = tmp_path / "copied"
    copied = time.mktime((2026, 12, 6, 19, 54, 0, 0, 0, -1))
    for learner in ("ada", "bob", "cyd"):
        (source / learner).mkdir(parents=True)
        (source / learner / "detect.ipynb").write_bytes(_notebook(learner))
        os.utime(source / learner / "detect.ipynb", (copied, copied))
    report = collect(course, source, "detect")
    assert len(report.collected) == 3
    assert any("same file time" in w and "cp -p" in w for w in report.warnings)
    # times kept (spread, some before the due date): no warning
    for number, learner in enumerate(("ada", "bob", "cyd")):
        when = time.mktime((2026, 12, 4 + number, 10, 0, 0, 0, 0, -1))
        os.utime(source / learner / "detect.ipynb", (when, when))
    shutil.rmtree(course.path("submitted"))
    again = collect(course, source, "detect")
    assert len(again.collected) == 3 and not any("same file time" in w for w in again.warnings)

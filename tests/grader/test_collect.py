"""Collecting submissions into nbgrader's layout from folders and LMS zips, losing nothing."""

from __future__ import annotations

import json
import os
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

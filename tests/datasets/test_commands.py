"""`theater generate` through the real CLI entry point: one clear line and nothing half-written."""

from __future__ import annotations

import json

import pytest

from theater.cli import main


def _args(out, *extra):
    return ["generate", "--profile", "startup", "--employees", "20", "--days", "14", "--out", str(out), *extra]


def test_generate_writes_a_company(tmp_path, capsys):
    out = tmp_path / "company"
    assert main(_args(out, "--seed", "3", "--with-labels", "--format", "csv")) == 0
    assert json.loads((out / "manifest.json").read_text())["format"] == "csv"
    assert (out / "labels.csv").exists()
    assert str(out) in capsys.readouterr().out


def test_the_secret_can_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("THEATER_SECRET", "s")
    assert main(_args(tmp_path / "env", "--learner", "ada")) == 0
    assert main(_args(tmp_path / "flag", "--learner", "ada", "--secret", "s")) == 0
    assert (tmp_path / "env" / "ai_events.parquet").read_bytes() == \
        (tmp_path / "flag" / "ai_events.parquet").read_bytes()


def test_learner_and_secret_derive_the_seed(tmp_path):
    from datasets.api import learner_seed

    assert main(_args(tmp_path / "a", "--learner", "ada", "--secret", "s")) == 0
    assert main(_args(tmp_path / "b", "--seed", str(learner_seed("s", "ada")))) == 0
    assert (tmp_path / "a" / "ai_events.parquet").read_bytes() == (tmp_path / "b" / "ai_events.parquet").read_bytes()


@pytest.mark.parametrize("argv_tail, message", [
    (["--seed", "1", "--profile", "nope"], "unknown profile 'nope'"),
    (["--seed", "1", "--employees", "-4"], "employees must be between"),
    (["--seed", "1", "--days", "0"], "days must be between"),
    ([], "give --seed N, or --learner ID with --secret S"),
    (["--seed", "1", "--learner", "ada", "--secret", "s"], "not both"),
    (["--learner", "ada"], "go together"),
])
def test_bad_input_is_one_line_a_non_zero_exit_and_no_folder(tmp_path, capsys, monkeypatch, argv_tail, message):
    monkeypatch.delenv("THEATER_SECRET", raising=False)
    out = tmp_path / "company"
    assert main(_args(out) + argv_tail) != 0
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_invalid_yaml_profile_is_reported_with_its_path(tmp_path, capsys):
    profile = tmp_path / "mine.yaml"
    profile.write_text("archetype_mix: {genuine: 1.0\n")
    out = tmp_path / "company"
    assert main(["generate", "--profile", str(profile), "--employees", "5", "--days", "5", "--seed", "1",
                 "--out", str(out)]) != 0
    err = capsys.readouterr().err
    assert "invalid YAML" in err and str(profile) in err
    assert not out.exists()


def test_unwritable_out_is_refused(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    assert main(_args(blocker / "company", "--seed", "1")) != 0
    assert "cannot create" in capsys.readouterr().err
    assert main(_args(blocker, "--seed", "1")) != 0
    assert "is not a folder" in capsys.readouterr().err
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("kind", ["github-copilot", "openai-usage", "m365-copilot"])
def test_export_adds_vendor_files_next_to_the_tables(tmp_path, kind):
    out = tmp_path / "company"
    assert main(_args(out, "--seed", "4", "--export", kind)) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["exports"] == [kind]
    tables = {f"{name}.parquet" for name in ("employees", "ai_events", "work_items", "calendar", "survey")}
    assert set(p.name for p in out.iterdir()) - tables - {"manifest.json"}, "no export file was written"


@pytest.mark.parametrize(("extra", "words"), [
    (["--start-date", "9999-12-28"], "the period 9999-12-28 plus 14 days must lie between"),
    (["--start-date", "2026-02-30"], "start_date must be a date"),
])
def test_impossible_start_dates_are_one_line_and_exit_2(tmp_path, capsys, extra, words):
    assert main(_args(tmp_path / "company", "--seed", "1", *extra)) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "internal error" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_profile_with_a_nan_weight_is_one_line_and_exit_2(tmp_path, capsys):
    profile = tmp_path / "nan.yaml"
    profile.write_text("archetype_mix: {genuine: 1.0}\nteams: [{name: A, weight: .nan, roles: {Analyst: 1}}]\n")
    args = _args(tmp_path / "company", "--seed", "1")
    args[args.index("startup")] = str(profile)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "teams[0].weight" in err and "internal error" not in err


def test_a_full_disk_is_one_line_and_exit_2_not_an_internal_error(tmp_path, capsys, monkeypatch):
    import errno

    from datasets import api

    def full(name, table, folder, fmt):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(api, "_write_table", full)
    assert main(_args(tmp_path / "company", "--seed", "1")) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "the disk is full" in err
    assert "internal error" not in err and "please report" not in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_folder_the_system_will_not_let_us_write_is_one_line(tmp_path, capsys):
    import shutil
    import subprocess

    locked = tmp_path / "locked"
    locked.mkdir()
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(locked)]).returncode != 0:
        pytest.skip("needs chattr on a file system with the immutable flag")
    try:
        assert main(_args(locked / "company", "--seed", "1")) == 2
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    err = capsys.readouterr().err
    assert "cannot write" in err and ("not permitted" in err or "permission denied" in err)
    assert "internal error" not in err and err.count("\n") == 1
    assert list(locked.iterdir()) == []

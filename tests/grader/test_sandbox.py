"""The sandboxed kernel: what it can see, what it can do, and that learner mischief stays contained."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import nbformat
import psutil
import pytest

from grader.sandbox import (
    ISOLATION_BWRAP,
    ISOLATION_RLIMITS,
    SANDBOX_WORKDIR,
    Limits,
    probe_isolation,
    run_notebook_sandboxed,
)

FAST = Limits(cell_timeout=8, notebook_timeout=40, output_bytes=20_000)
needs_bwrap = pytest.mark.skipif(probe_isolation() != ISOLATION_BWRAP, reason="bubblewrap unavailable here")


def _notebook(*sources: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in sources])


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "".join(parts)


@pytest.fixture
def course(tmp_path: Path) -> dict[str, Path]:
    """A fake course beside the working folder: a secret, a gradebook, another learner's data."""
    secret = tmp_path / "course" / ".theater" / "secret"
    secret.parent.mkdir(parents=True)
    secret.write_text("TOP-SECRET-COURSE-KEY")
    (tmp_path / "course" / "gradebook.db").write_text("grades")
    data = tmp_path / "data"
    data.mkdir()
    (data / "employees.csv").write_text("employee_id\nE00001\n")
    work = tmp_path / "work"
    work.mkdir()
    return {"root": tmp_path, "secret": secret, "data": data, "work": work}


def test_probe_prefers_bubblewrap_when_it_is_installed():
    expected = ISOLATION_BWRAP if shutil.which("bwrap") and shutil.which("prlimit") else ISOLATION_RLIMITS
    if os.geteuid() == 0:
        assert probe_isolation() == expected
    else:
        assert probe_isolation() in (ISOLATION_BWRAP, ISOLATION_RLIMITS)


@needs_bwrap
def test_kernel_sees_only_its_folder_and_no_network(course):
    secret_path = str(course["secret"])
    nb = _notebook(
        "import os; print(os.getpid(), os.getcwd(), sorted(os.listdir('.')))",
        f"print(os.path.exists({secret_path!r}), os.path.exists({str(course['root'] / 'course')!r}))",
        "print(os.path.exists('/work/main/grader'), os.path.exists('/root/.ssh'), os.path.exists('/etc/shadow'))",
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2); print('NET')\n"
        "except OSError as e: print('nonet')",
        "print(open('data/employees.csv').read().splitlines()[1])",
    )
    run = run_notebook_sandboxed(nb, course["work"], course["data"], FAST)
    assert run.isolation == ISOLATION_BWRAP and run.problems == []
    pid, cwd, listing = _text(run.notebook.cells[0]).split(" ", 2)
    assert int(pid) < 10 and cwd == SANDBOX_WORKDIR
    assert "answers" in listing and "data" in listing
    assert _text(run.notebook.cells[1]).split() == ["False", "False"]
    assert _text(run.notebook.cells[2]).split() == ["False", "False", "False"]
    assert _text(run.notebook.cells[3]).strip() == "nonet"
    assert _text(run.notebook.cells[4]).strip() == "E00001"


@needs_bwrap
def test_data_is_read_only_and_answers_reach_the_grader(course):
    nb = _notebook(
        "open('answers/flagged.json', 'w').write('[\"E00001\"]')",
        "try:\n    open('data/employees.csv', 'w').write('x')\nexcept OSError as e: print(type(e).__name__)",
        "try:\n    open('/usr/evil', 'w')\nexcept OSError as e: print(type(e).__name__)",
    )
    run = run_notebook_sandboxed(nb, course["work"], course["data"], FAST)
    assert (course["work"] / "answers" / "flagged.json").read_text() == '["E00001"]'
    assert "OSError" in _text(run.notebook.cells[1]) or "PermissionError" in _text(run.notebook.cells[1])
    assert _text(run.notebook.cells[2]).strip() in ("OSError", "PermissionError")
    assert (course["data"] / "employees.csv").read_text() == "employee_id\nE00001\n"
    assert (course["work"] / "answers" / "flagged.json").stat().st_uid == os.getuid()


@needs_bwrap
@pytest.mark.slow
def test_fork_bomb_is_capped_and_the_kernel_keeps_going(course):
    nb = _notebook(
        "import os, time\nn = 0\ntry:\n    for _ in range(5000):\n        if os.fork() == 0:\n"
        "            time.sleep(60); os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(n)",
        "print('alive')",
    )
    run = run_notebook_sandboxed(nb, course["work"], course["data"], FAST)
    assert int(_text(run.notebook.cells[0])) < FAST.processes
    assert _text(run.notebook.cells[1]).strip() == "alive"


@needs_bwrap
@pytest.mark.slow
def test_memory_bomb_raises_memory_error_inside(course):
    nb = _notebook("blob = bytearray(8 * 1024**3)", "print('alive')")
    run = run_notebook_sandboxed(nb, course["work"], course["data"], FAST)
    assert _text(run.notebook.cells[0]).startswith("MemoryError")
    assert _text(run.notebook.cells[1]).strip() == "alive"
    # the learner's feedback and the instructor's view get a grader note, as for a time-out
    assert [p for p in run.problems if "ran out of memory" in p] == [
        "a cell ran out of memory (MemoryError): the grader runs a notebook in 3 GB of address space, and "
        "Python, pandas and your data already use part of it; use smaller arrays, or delete what you no "
        "longer need"]


def test_a_notebook_without_a_memory_error_gets_no_memory_note():
    from grader.sandbox import _ran_out_of_memory

    nb = _notebook("x = 1", "raise ValueError('no')")
    nb.cells[1].outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="no", traceback=[])]
    assert not _ran_out_of_memory(nb)
    nb.cells[0].outputs = [nbformat.v4.new_output("error", ename="MemoryError", evalue="", traceback=[])]
    assert _ran_out_of_memory(nb)


@pytest.mark.slow
def test_infinite_loop_hits_the_cell_time_limit(course):
    limits = Limits(cell_timeout=3, notebook_timeout=30)
    run = run_notebook_sandboxed(_notebook("while True: pass", "print('never')"), course["work"], None, limits)
    assert run.timed_out
    assert any("time limit" in p for p in run.problems)
    assert run.notebook.cells[1].outputs == []


@pytest.mark.slow
def test_output_flood_is_truncated(course):
    nb = _notebook("for i in range(200000): print('y' * 200)", "print('after')")
    run = run_notebook_sandboxed(nb, course["work"], None, FAST)
    assert run.output_truncated
    total = sum(len(nbformat.writes(cell)) for cell in run.notebook.cells)
    assert total < FAST.output_bytes * 3


@pytest.mark.slow
def test_a_notebook_that_never_stops_printing_is_stopped_long_before_its_time_limit(course):
    """Dropped output still costs the grader the work of receiving it: past flood_bytes the run stops."""
    limits = Limits(cell_timeout=60, notebook_timeout=120, output_bytes=20_000, flood_bytes=2 * 1024**2)
    run = run_notebook_sandboxed(_notebook("while True: print('y' * 200)", "print('after')"),
                                 course["work"], None, limits)
    assert run.output_flooded and run.output_truncated and not run.timed_out
    assert run.seconds < 30, run.seconds
    assert "execution stopped: the notebook printed more than 2 MB (the grader keeps the first 19 KB of output)" in run.problems
    assert not any("kernel died" in p for p in run.problems), run.problems
    assert sum(len(nbformat.writes(cell)) for cell in run.notebook.cells) < limits.output_bytes * 3
    assert run.notebook.cells[1].outputs == []


def test_os_exit_is_reported_not_raised(course):
    run = run_notebook_sandboxed(_notebook("import os; os._exit(3)", "print('x')"), course["work"], None, FAST)
    assert run.kernel_died
    assert any("kernel died" in p for p in run.problems)


def test_fallback_scrubs_the_environment_and_says_so(course, monkeypatch):
    monkeypatch.setenv("THEATER_SECRET_PROBE", "leak")
    nb = _notebook("import os; print(sorted(k for k in os.environ if 'THEATER' in k or 'JPY' in k))",
                   "open('answers/a.json', 'w').write('1')")
    run = run_notebook_sandboxed(nb, course["work"], course["data"], FAST, isolation=ISOLATION_RLIMITS)
    assert run.isolation == ISOLATION_RLIMITS
    assert _text(run.notebook.cells[0]).strip() == "[]"
    assert (course["work"] / "answers" / "a.json").read_text() == "1"


def test_fallback_leaves_no_process_behind(course):
    nb = _notebook("import subprocess, os; print(subprocess.Popen(['sleep', '120']).pid)")
    run = run_notebook_sandboxed(nb, course["work"], None, FAST, isolation=ISOLATION_RLIMITS)
    child = int(_text(run.notebook.cells[0]))
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


@needs_bwrap
def test_bwrap_kernel_runs_under_a_private_uid_when_root(course):
    run = run_notebook_sandboxed(_notebook("import os; print(os.getuid())"), course["work"], None, FAST)
    uid = int(_text(run.notebook.cells[0]))
    assert run.private_uid == (os.geteuid() == 0)
    assert (uid != 0) == run.private_uid
    assert "bubblewrap" in run.isolation_detail


@needs_bwrap
@pytest.mark.slow
def test_filling_the_disk_with_many_files_is_stopped(course):
    limits = Limits(cell_timeout=30, notebook_timeout=60, folder_bytes=20 * 1024**2, folder_entries=500)
    nb = _notebook("import os\nfor i in range(100000):\n    open(f'answers/f{i}', 'w').write('x' * 100000)",
                   "print('never')")
    run = run_notebook_sandboxed(nb, course["work"], None, limits)
    assert any("working folder exceeded" in p for p in run.problems)
    assert run.seconds < 30


@needs_bwrap
def test_no_user_namespace_can_be_created_inside(course):
    nb = _notebook(
        "import subprocess\n"
        "for command in (['unshare', '-r', 'true'], ['unshare', '-U', 'true']):\n"
        "    print(' '.join(command), 'exit', subprocess.run(command, capture_output=True).returncode)\n",
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "CLONE_NEWUSER = 0x10000000\n"
        "print('python unshare refused' if libc.unshare(CLONE_NEWUSER) != 0 else 'python unshare allowed')\n",
    )
    result = run_notebook_sandboxed(nb, course["work"], course["data"], FAST)
    assert result.userns_blocked and "no nested user namespaces" in result.isolation_detail
    text = _text(result.notebook.cells[0])
    assert "unshare -r true exit" in text and "exit 0" not in text, text
    assert "python unshare refused" in _text(result.notebook.cells[1])


@needs_bwrap
def test_the_connection_folder_is_inside_the_watched_working_folder(course, tmp_path, monkeypatch):
    """Writing beside the kernel's connection file fills the working folder, which the guard stops."""
    limits = Limits(cell_timeout=30, notebook_timeout=60, folder_bytes=64 * 2**20)
    host_tmp = tmp_path / "host-tmp"  # this test's own /tmp: other tests grading in parallel write to the real one
    host_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(host_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(host_tmp))
    before = {p.name for p in Path(tempfile.gettempdir()).iterdir()}
    nb = _notebook(
        "import os, sys\n"
        "folder = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])\n"
        "print('FOLDER', folder, flush=True)\n"
        "import time; time.sleep(1)  # the printed folder reaches the grader before the guard stops the kernel\n"
        "for i in range(20):\n"
        "    with open(os.path.join(folder, f'fill{i}.bin'), 'wb') as handle:\n"
        "        for _ in range(10):\n"
        "            handle.write(b'x' * 1_000_000)\n",
        "import time\ntime.sleep(3)\nprint('still running')",
    )
    result = run_notebook_sandboxed(nb, course["work"], course["data"], limits)
    assert "FOLDER " in _text(result.notebook.cells[0]), result.problems
    folder = _text(result.notebook.cells[0]).split("FOLDER ", 1)[1].split()[0]
    assert Path(folder).resolve().is_relative_to(course["work"].resolve())
    assert any("working folder exceeded" in p for p in result.problems), result.problems
    assert "still running" not in _text(result.notebook.cells[1])
    assert not Path(folder).exists()  # removed with the kernel; nothing left in the host's /tmp
    assert {p.name for p in Path(tempfile.gettempdir()).iterdir()} - before == set()

"""Run a learner's notebook in a kernel that cannot see the course, the network or other learners.

The kernel runs inside bubblewrap: its own PID, network, IPC and UTS namespaces, a read-only
system, a tmpfs `/tmp`, and a working folder that holds only the submitted notebook, the
learner's `data/` (read-only), `answers/` and the kernel's connection folder (so the folder guard
watches everything the kernel can write). When the grader runs as root the kernel also drops
to a fresh unprivileged uid, so RLIMIT_NPROC really caps its processes (the kernel exempts root),
and then enters a second, unprivileged bubblewrap whose user namespace forbids creating more
(`--disable-userns`): `unshare -r` fails inside.
Resource limits (address space, CPU, processes, file size, open files) are applied with
`prlimit` before anything of the learner's runs; wall time per cell and per notebook and the
total output size are enforced by the grader's client.

Where bubblewrap cannot run, the strongest available fallback is used — the same rlimits, a
scrubbed environment, a throw-away working folder and (as root) an unprivileged uid — and the
run says so in its `isolation` field.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager, KernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

ISOLATION_BWRAP = "bwrap"
ISOLATION_RLIMITS = "rlimits"  # no namespaces: rlimits, scrubbed env, temp cwd, own uid as root

SANDBOX_WORKDIR = "/submission"
UNPRIVILEGED_UID_RANGE = (200_000, 260_000)


@dataclass(frozen=True)
class Limits:
    """Per-run resource budget; defaults fit the course's notebooks with a wide margin."""

    cell_timeout: float = 60.0
    notebook_timeout: float = 300.0
    memory_bytes: int = 3 * 1024**3
    cpu_seconds: int = 300
    processes: int = 64
    output_bytes: int = 256 * 1024
    flood_bytes: int = 64 * 1024**2   # a notebook still printing past this is stopped (it keeps only output_bytes)
    file_bytes: int = 64 * 1024**2
    open_files: int = 256
    tmp_bytes: int = 64 * 1024**2
    folder_bytes: int = 256 * 1024**2  # the writable working folder lives on the grader's disk
    folder_entries: int = 5000


@dataclass
class RunResult:
    """What happened when a notebook ran; `notebook` carries the executed cells."""

    notebook: NotebookNode
    isolation: str
    problems: list[str] = field(default_factory=list)
    timed_out: bool = False
    kernel_died: bool = False
    output_truncated: bool = False
    output_flooded: bool = False   # stopped for printing past Limits.flood_bytes
    seconds: float = 0.0
    private_uid: bool = False
    userns_blocked: bool = False

    @property
    def isolation_detail(self) -> str:
        """A one-line description of the isolation for the grade report."""
        if self.isolation == ISOLATION_BWRAP:
            base = "bubblewrap (no network, own PID namespace, read-only system, only the submission folder)"
        else:
            base = "fallback without namespaces (rlimits, scrubbed environment, temporary folder)"
        return (base + (", unprivileged uid" if self.private_uid else "")
                + (", no nested user namespaces" if self.userns_blocked else ""))


def first_error(nb: NotebookNode) -> str:
    """The first error the run raised, as "cell N raised Name: message" (empty when none did): a notebook
    that wrote no answer usually stopped there, and the learner and the instructor should see where."""
    for number, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                # the learner's own text, going into the grader's trusted notes cell: a code span, no markup
                message = " ".join(str(output.get("evalue", "")).replace("`", "'").split())[:200]
                name = re.sub(r"[^\w.]", "", str(output.get("ename", "")))[:80] or "an error"
                return f"code cell {number} raised {name}" + (f": `{message}`" if message else "")
    return ""


def _system_binds() -> list[str]:
    """Read-only binds for the interpreter, its libraries and the handful of /etc files it reads."""
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
                "/etc/localtime", "/etc/mime.types", "/etc/fonts"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    for prefix in sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}):
        if prefix.startswith("/usr/"):
            continue
        for parent in reversed(Path(prefix).parents):
            if str(parent) != "/":
                args += ["--perms", "0755", "--dir", str(parent)]  # traversable by the kernel's uid
        args += ["--ro-bind", prefix, prefix]
    return args


def _kernel_env() -> dict[str, str]:
    """The whole environment the kernel sees: nothing inherited from the grader."""
    bin_dir = str(Path(sys.prefix) / "bin")
    return {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "IPYTHONDIR": "/tmp/.ipython",
        "MPLCONFIGDIR": "/tmp/.matplotlib",
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_MAX_THREADS": "1",
        "ARROW_IO_THREADS": "1",
    }


def _tasks_of_current_user() -> int:
    """Threads and processes already running under our uid (RLIMIT_NPROC counts them all)."""
    import psutil

    uid, total = os.getuid(), 0
    for proc in psutil.process_iter(["uids", "num_threads"]):
        try:
            if proc.info["uids"] and proc.info["uids"].real == uid:
                total += proc.info["num_threads"] or 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def _rlimit_prefix(limits: Limits, uid: int | None) -> list[str]:
    """`prlimit` arguments applied to the sandbox launcher and inherited by everything inside.

    RLIMIT_NPROC counts every task of a uid: with a private uid it is the sandbox's own budget;
    without one (not root) the budget comes on top of what the grader's user already runs.
    """
    processes = limits.processes if uid is not None or os.geteuid() == 0 else \
        limits.processes + _tasks_of_current_user()
    return [
        "prlimit",
        f"--as={limits.memory_bytes}",
        f"--cpu={limits.cpu_seconds}",
        f"--nproc={processes}",
        f"--fsize={limits.file_bytes}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]


def _drop_privileges_prefix(uid: int | None) -> list[str]:
    """Switch to an unprivileged uid (only possible, and only needed, when running as root)."""
    if uid is None:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


# Inside the sandbox, after dropping to the private uid: a second bubblewrap whose only job is a user
# namespace that cannot create further user namespaces (bwrap's --disable-userns needs one it owns,
# and the outer sandbox, started by root, must keep real uids for RLIMIT_NPROC to count).
NO_USERNS_INNER = ["bwrap", "--unshare-user", "--disable-userns", "--die-with-parent", "--dev-bind", "/", "/",
                   "--chdir", SANDBOX_WORKDIR, "--"]


def bwrap_command(
    inner: list[str],
    workdir: Path,
    data_dir: Path | None,
    extra_rw: list[Path],
    limits: Limits,
    uid: int | None,
    block_userns: bool = True,
) -> list[str]:
    """The full launcher: rlimits, then bubblewrap with nothing of the course bound in, then `inner`.

    With `block_userns`, nothing inside can create a user namespace (`unshare -r` fails), so learner
    code cannot gain the capabilities to rearrange its mounts or reach kernel code behind them.
    """
    args = _rlimit_prefix(limits, uid) + [
        "bwrap",
        "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session",
        "--hostname", "sandbox",
        "--proc", "/proc", "--dev", "/dev",
        "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
    ]
    if block_userns and uid is None:
        args += ["--unshare-user", "--disable-userns"]
    args += _system_binds()
    args += ["--bind", str(workdir), SANDBOX_WORKDIR]
    if data_dir is not None:
        args += ["--ro-bind", str(data_dir), f"{SANDBOX_WORKDIR}/data"]
    for path in extra_rw:
        for parent in reversed(Path(path).parents):
            if str(parent) not in ("/", "/tmp"):
                args += ["--perms", "0755", "--dir", str(parent)]  # traversable by the kernel's uid
        args += ["--bind", str(path), str(path)]
    args += ["--chdir", SANDBOX_WORKDIR, "--clearenv", "--unsetenv", "JPY_PARENT_PID"]
    for key, value in _kernel_env().items():
        args += ["--setenv", key, value]
    args += ["--"]
    nested = NO_USERNS_INNER if block_userns and uid is not None else []
    return args + _drop_privileges_prefix(uid) + nested + inner


def fallback_command(inner: list[str], limits: Limits, uid: int | None) -> list[str]:
    """Without namespaces: rlimits, an unprivileged uid where possible and an empty environment."""
    env = ["env", "-i"] + [f"{key}={value}" for key, value in _kernel_env().items()]
    return _rlimit_prefix(limits, uid) + _drop_privileges_prefix(uid) + env + inner


def _reachable_by_anyone(path: str) -> bool:
    """True when every folder above `path` lets other users through (needed to drop to another uid)."""
    for parent in Path(os.path.realpath(path)).parents:
        if not os.stat(parent).st_mode & 0o001:
            return False
    return True


def _fresh_uid(isolation: str = ISOLATION_BWRAP) -> int | None:
    """A uid no other process uses, so per-uid limits count only this sandbox; None if not possible."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    if isolation != ISOLATION_BWRAP and not all(
        _reachable_by_anyone(p) for p in (sys.executable, sys.base_prefix, sys.prefix)
    ):
        return None  # without bwrap's fresh mount tree the interpreter must be reachable as is
    low, high = UNPRIVILEGED_UID_RANGE
    return low + secrets.randbelow(high - low)


def _bwrap_runs(block_userns: bool) -> bool:
    """Does bubblewrap start the venv's Python with our exact options (and the chosen user-namespace guard)?"""
    with tempfile.TemporaryDirectory(prefix="theater-probe-") as tmp:
        inner = [sys.executable, "-c", "import os; print(os.getcwd())"]
        uid = _fresh_uid()
        if uid is not None:
            os.chown(tmp, uid, uid)
        cmd = bwrap_command(inner, Path(tmp), None, [], Limits(), uid, block_userns)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0 and done.stdout.strip() == SANDBOX_WORKDIR


@functools.lru_cache(maxsize=1)
def _probe() -> tuple[str, bool]:
    """Once per process: the isolation, and whether user namespaces can be blocked inside it.

    Blocking needs the system to allow unprivileged user namespaces; where it does not, learner
    code cannot create one either, so the sandbox runs without the guard.
    """
    if shutil.which("bwrap") is None or shutil.which("prlimit") is None:
        return ISOLATION_RLIMITS, False
    if _bwrap_runs(block_userns=True):
        return ISOLATION_BWRAP, True
    if _bwrap_runs(block_userns=False):
        return ISOLATION_BWRAP, False
    return ISOLATION_RLIMITS, False


def probe_isolation() -> str:
    """Once per process: can bubblewrap start the venv's Python with our exact options?"""
    return _probe()[0]


def userns_blocked() -> bool:
    """True when the bubblewrap sandbox also stops learner code from creating user namespaces."""
    return _probe()[1]


class SandboxKernelManager(AsyncKernelManager):
    """A KernelManager whose kernel command is wrapped in the sandbox launcher."""

    launcher: list[str] = []
    sandbox_uid: int | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """Start ipykernel through the launcher; the connection file must be readable by the kernel's uid."""
        if self.sandbox_uid is not None:
            os.chown(self.connection_file, self.sandbox_uid, self.sandbox_uid)
        inner = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file]
        return self.launcher + inner + list(extra_arguments or [])


class CappedNotebookClient(NotebookClient):
    """Drops outputs past a byte budget so a flooding notebook cannot exhaust the grader, and
    stops a notebook that goes on printing past `flood_budget`: every dropped message still costs
    the grader the work of receiving it, up to the cell's whole time limit."""

    output_budget: int = 0
    output_used: int = 0
    truncated: bool = False
    flood_budget: int = 0
    dropped: int = 0
    on_flood: Callable[[], None] | None = None

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        size = len(json.dumps(msg.get("content", {}), default=str))
        if self.output_used + size > self.output_budget:
            if not self.truncated:
                self.truncated = True
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr",
                    text=f"[grader: output truncated after {self.output_budget} bytes]\n"))
            self.dropped += size
            if self.on_flood is not None and self.dropped > self.flood_budget:
                stop, self.on_flood = self.on_flood, None
                stop()
            return None
        self.output_used += size
        return super().output(outs, msg, display_id, cell_index)


def _kill_uid(uid: int) -> None:
    """Kill every process left under the sandbox's private uid (only used without a PID namespace)."""
    import psutil

    for proc in psutil.process_iter(["uids"]):
        try:
            if proc.info["uids"] and proc.info["uids"].real == uid:
                proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


def _kill_group(process_group: int | None) -> None:
    """Kill what is left of the kernel's own process group (the launcher starts it in a new session)."""
    if process_group and process_group > 1 and process_group != os.getpgrp():
        try:
            os.killpg(process_group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _prepare_tree(workdir: Path, uid: int | None) -> None:
    """Make the working folder (not data/) writable by the kernel's uid."""
    if uid is None:
        return
    for root, dirs, files in os.walk(workdir):
        if Path(root).name == "data" and Path(root).parent == workdir:
            dirs[:] = []
            continue
        os.chown(root, uid, uid)
        for name in files:
            os.lchown(os.path.join(root, name), uid, uid)


def run_notebook_sandboxed(
    nb: NotebookNode,
    workdir: Path,
    data_dir: Path | None = None,
    limits: Limits | None = None,
    isolation: str | None = None,
) -> RunResult:
    """Execute `nb` with `workdir` as its only writable folder; never raises for learner behaviour.

    `workdir` is a throw-away folder the caller owns (answers/ is created in it); `data_dir` is
    bound read-only as `data/` beside the notebook. The executed notebook comes back in the result
    together with what went wrong (timeout, dead kernel, truncated output).
    """
    limits = limits or Limits()
    isolation = isolation or probe_isolation()
    workdir = Path(workdir).resolve()
    (workdir / "answers").mkdir(exist_ok=True)
    if isolation != ISOLATION_BWRAP and data_dir is not None:
        link = workdir / "data"
        if not link.exists():
            shutil.copytree(data_dir, link)
            for root, _dirs, files in os.walk(link):
                for name in files:
                    os.chmod(os.path.join(root, name), 0o444)
    uid = _fresh_uid(isolation)
    # The kernel's connection folder (its socket files and kernel.json) is the one other folder it
    # can write; it lives inside the working folder so the same size guard watches both.
    conn_dir = Path(tempfile.mkdtemp(prefix=".kernel-", dir=workdir))
    _prepare_tree(workdir, uid)
    blocked = isolation == ISOLATION_BWRAP and userns_blocked()
    if isolation == ISOLATION_BWRAP:
        launcher = bwrap_command([], workdir, data_dir, [conn_dir], limits, uid, blocked)
        cwd = str(conn_dir)
    else:
        launcher = fallback_command([], limits, uid)
        cwd = str(workdir)

    km = SandboxKernelManager(transport="ipc", ip=str(conn_dir / "kernel"),
                              connection_file=str(conn_dir / "kernel.json"))
    km.launcher = launcher
    km.sandbox_uid = uid
    started = time.monotonic()
    deadline = started + limits.notebook_timeout

    def cell_timeout(_cell: NotebookNode) -> int:
        return max(1, int(min(limits.cell_timeout, deadline - time.monotonic())))

    client = CappedNotebookClient(
        nb, km=km, timeout_func=cell_timeout, allow_errors=True, kernel_name="python3",
        shutdown_kernel="immediate", record_timing=False, startup_timeout=60,
        resources={"metadata": {"path": cwd}},
    )
    client.output_budget = limits.output_bytes
    client.flood_budget = limits.flood_bytes
    result = RunResult(notebook=nb, isolation=isolation, private_uid=uid is not None, userns_blocked=blocked)
    client.on_flood = functools.partial(_stop_flood, km, result, limits)
    watchdog = threading.Timer(limits.notebook_timeout + 10, _kill_kernel_process, args=(km, result))
    watchdog.daemon = True
    watchdog.start()
    finished = threading.Event()
    guard = threading.Thread(target=_guard_folder, args=(workdir, limits, km, result, finished), daemon=True)
    guard.start()
    try:
        client.execute(cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except CellTimeoutError:
        result.timed_out = True
        spent = time.monotonic() - started
        which = "notebook" if spent >= limits.notebook_timeout - 1 else "cell"
        budget = limits.notebook_timeout if which == "notebook" else limits.cell_timeout
        result.problems.append(f"execution stopped: a cell exceeded the {which} time limit ({budget:.0f} s)")
    except DeadKernelError:
        result.kernel_died = True
        if not result.output_flooded:   # the grader stopped it, and said why
            result.problems.append("the kernel died during execution (exit, crash or resource limit: "
                                   f"{_gigabytes(limits.memory_bytes)} of memory, {limits.cpu_seconds} s of CPU)")
    except RuntimeError as exc:  # kernel failed to start or stopped answering
        result.kernel_died = True
        result.problems.append(f"the kernel could not run the notebook: {str(exc)[:200]}")
    finally:
        atexit.unregister(client._cleanup_kernel)
        watchdog.cancel()
        finished.set()
        guard.join(timeout=5)
        if not any(FOLDER_PROBLEM in p for p in result.problems) and _over_budget(workdir, limits):
            result.problems.append(_folder_problem(limits) + " (found when the notebook ended)")
        process_group = getattr(km.provisioner, "pgid", None)
        _shutdown(km)
        if isolation != ISOLATION_BWRAP:  # no PID namespace takes the kernel's children down with it
            _kill_group(process_group)
            if uid is not None:
                _kill_uid(uid)
        shutil.rmtree(conn_dir, ignore_errors=True)
        if uid is not None:
            _restore_owner(workdir)
    if _ran_out_of_memory(result.notebook):
        result.problems.append(memory_note(limits))
    if client.truncated:
        result.output_truncated = True
        result.problems.append(f"output truncated after {limits.output_bytes} bytes")
    result.seconds = time.monotonic() - started
    return result


def _gigabytes(size: int) -> str:
    return f"{size / 1024**3:g} GB"


def memory_note(limits: Limits) -> str:
    """The grader note of a notebook that hit the memory limit (a time-out has one too)."""
    return (f"a cell ran out of memory (MemoryError): the grader runs a notebook in "
            f"{_gigabytes(limits.memory_bytes)} of address space, and Python, pandas and your data "
            "already use part of it; use smaller arrays, or delete what you no longer need")


def _ran_out_of_memory(nb: NotebookNode) -> bool:
    return any(out.get("output_type") == "error" and out.get("ename") == "MemoryError"
               for cell in nb.get("cells", []) if cell.get("cell_type") == "code" for out in cell.get("outputs", []))


def _stop_kernel(km: KernelManager, result: RunResult, problem: str, flag: str | None = None) -> None:
    """Kill a still-running kernel (its sandbox with it), with the problem the learner and the
    instructor read; `flag` names the RunResult field that says why, set before the kill."""
    process = getattr(km.provisioner, "process", None)
    if process is not None and process.poll() is None:
        if flag:
            setattr(result, flag, True)
        result.problems.append("execution stopped: " + problem)
        process.kill()


def _stop_flood(km: KernelManager, result: RunResult, limits: Limits) -> None:
    """Stop a notebook that keeps printing long after its output stopped being kept."""
    _stop_kernel(km, result, f"the notebook printed more than {limits.flood_bytes / 1024**2:g} MB (the grader "
                             f"keeps the first {limits.output_bytes // 1024} KB of output)", "output_flooded")


def _kill_kernel_process(km: KernelManager, result: RunResult) -> None:
    """Hard stop for a notebook that outlives its wall-time budget while still producing output."""
    _stop_kernel(km, result, "the notebook exceeded its total time limit", "timed_out")


def _folder_usage(folder: Path, max_entries: int) -> tuple[int, int]:
    """Bytes and entries under the working folder (data/ excluded), stopping early past max_entries."""
    total, entries = 0, 0
    stack = [str(folder)]
    while stack and entries <= max_entries:
        try:
            with os.scandir(stack.pop()) as listing:
                for entry in listing:
                    entries += 1
                    if entry.is_dir(follow_symlinks=False):
                        if not (entry.name == "data" and os.path.dirname(entry.path) == str(folder)):
                            stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    return total, entries


def _guard_folder(folder: Path, limits: Limits, km: KernelManager, result: RunResult,
                  finished: threading.Event) -> None:
    """Stop a notebook that fills the grader's disk with many files (RLIMIT_FSIZE caps only each one)."""
    while not finished.wait(0.5):
        if _over_budget(folder, limits):
            _stop_kernel(km, result, _folder_problem(limits))
            return


FOLDER_PROBLEM = "the working folder exceeded"


def _folder_problem(limits: Limits) -> str:
    return f"{FOLDER_PROBLEM} {limits.folder_bytes // 2**20} MB or {limits.folder_entries} files"


def _over_budget(folder: Path, limits: Limits) -> bool:
    size, entries = _folder_usage(folder, limits.folder_entries)
    return size > limits.folder_bytes or entries > limits.folder_entries


def _shutdown(km: KernelManager) -> None:
    """Kill the kernel (and with it the sandbox's PID namespace) without a graceful wait."""
    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - a kernel that is already gone is the goal
        pass


def _restore_owner(workdir: Path) -> None:
    """Hand the working folder back to the grader so it can read and delete everything."""
    for root, dirs, files in os.walk(workdir):
        os.lchown(root, os.getuid(), os.getgid())
        for name in files + dirs:
            try:
                os.lchown(os.path.join(root, name), os.getuid(), os.getgid())
            except OSError:
                continue

"""The public API of the synthetic company: generate, write, load, and derive a learner's seed.

The contract (tables, columns, files) is docs/data-model.md; the app, the notebooks and the grader
all go through these functions.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import re
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from datasets import atomic, pipeline, variation
from datasets.errors import UserError
from datasets.scenario import Scenario, load_scenario
from datasets.schemas import (ALL_TABLES, LABEL_TABLES, PUBLIC_TABLES, StreamChecker, check_references,
                              validate_table)
from datasets.tables import from_pandas, open_writer, read_table, to_pandas
from datasets.tables import write_table as _write_table

MANIFEST = "manifest.json"
MANIFEST_KIND = "signal-or-theater company"
FORMATS = ("parquet", "csv")
EXPORTS = ("github-copilot", "openai-usage", "m365-copilot")
MAX_EMPLOYEES = 1_000_000
MAX_DAYS = 3660
EARLIEST_START = date(1970, 1, 1)  # event timestamps are nanoseconds since 1970 in int64:
LATEST_END = date(2200, 12, 31)    # they end in 2262, so the period stays well inside
PROGRESS_EVENTS = 2_000_000
FULL_CHECK_EVENTS = 3_000_000  # below this, every streamed block also runs the pandera schemas



class GenerationError(UserError):
    """Arguments that cannot describe a company (sizes, seed, start date)."""


class OutputError(UserError):
    """The output folder cannot be written, or holds something we must not overwrite."""


@dataclass
class Company:
    """One synthetic company: public tables, the hidden truth, and facts about how it was made."""

    employees: pd.DataFrame
    ai_events: pd.DataFrame
    work_items: pd.DataFrame
    calendar: pd.DataFrame
    survey: pd.DataFrame
    labels: pd.DataFrame | None = None
    event_labels: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def tables(self, with_labels: bool = False) -> dict[str, pd.DataFrame]:
        names = ALL_TABLES if with_labels else PUBLIC_TABLES
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


# --------------------------------------------------------------------------- seeds

def learner_seed(secret: str, learner_id: str) -> int:
    """HMAC-SHA256(secret, learner id), first 8 bytes, masked to 63 bits: unguessable without the secret."""
    if not secret:
        raise GenerationError("a course secret is needed to derive a learner's seed")
    if not str(learner_id).strip():
        raise GenerationError("a learner id is needed to derive a learner's seed")
    digest = hmac.new(secret.encode("utf-8"), str(learner_id).encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


# --------------------------------------------------------------------------- generation

def _check_arguments(employees: Any, days: Any, seed: Any, start_date: Any) -> tuple[int, int, int, date | None]:
    def whole(name: str, value: Any, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                as_int = int(value)
            except (TypeError, ValueError):
                raise GenerationError(f"{name} must be a whole number, got {value!r}") from None
            if as_int != value:
                raise GenerationError(f"{name} must be a whole number, got {value!r}")
            value = as_int
        if not low <= value <= high:
            raise GenerationError(f"{name} must be between {low} and {high:,}, got {value}")
        return value

    employees = whole("employees", employees, 1, MAX_EMPLOYEES)
    days = whole("days", days, 1, MAX_DAYS)
    seed = whole("seed", seed, 0, 2**63 - 1)
    if start_date is not None and not isinstance(start_date, date):
        try:
            start_date = date.fromisoformat(str(start_date))
        except ValueError:
            raise GenerationError(f"start_date must be a date (YYYY-MM-DD), got {start_date!r}") from None
    return employees, days, seed, start_date


def _context(profile: str | Scenario, employees: Any, days: Any, seed: Any,
             start_date: Any) -> pipeline.Context:
    employees, days, seed, start_date = _check_arguments(employees, days, seed, start_date)
    scenario = load_scenario(profile)
    start = start_date or scenario.start_date
    _check_period(scenario, start, days)   # the profile as written: a date it names must fit
    scenario = variation.for_seed(scenario, seed)  # each seed draws its own company
    return pipeline.build_context(scenario, employees, days, seed, start)


def _check_period(scenario: Scenario, start: date, days: int) -> None:
    """The period must fit the timestamps of the files, and a mandate on a date must fall inside it."""
    last = date.max if start > date.max - timedelta(days=days - 1) else start + timedelta(days=days - 1)
    if start < EARLIEST_START or last > LATEST_END:
        raise GenerationError(f"the period {start.isoformat()} plus {days} days must lie between "
                              f"{EARLIEST_START.isoformat()} and {LATEST_END.isoformat()}")
    at = scenario.mandate.at
    if isinstance(at, date) and not start <= at <= last:
        raise GenerationError(
            f"the profile's mandate date {at.isoformat()} is outside the period {start.isoformat()} to "
            f"{last.isoformat()}: choose --start-date/--days that include it, or give mandate.at as a "
            "fraction of the period (or null for no mandate)")


def _meta(ctx: pipeline.Context) -> dict[str, Any]:
    tl = ctx.timeline
    mandate = None if tl.mandate_day is None else (tl.start + timedelta(days=tl.mandate_day)).isoformat()
    return {
        "profile": ctx.scenario.name,
        "description": ctx.scenario.description.strip(),
        "employees": len(ctx.population),
        "days": tl.days,
        "start_date": tl.start.isoformat(),
        "end_date": (tl.start + timedelta(days=tl.days - 1)).isoformat(),
        "mandate_date": mandate,
        "mandate_strength": ctx.scenario.mandate.strength,
        "family": pipeline.family_of(ctx.scenario).name,   # in memory only: the manifest leaves it out
        "generator_version": pipeline.GENERATOR_VERSION,
    }


def generate_company(profile: str | Scenario, employees: int, days: int, seed: int,
                     start_date: date | str | None = None) -> Company:
    """A whole company in memory, labels included, checked against the schemas."""
    ctx = _context(profile, employees, days, seed, start_date)
    chunk = pipeline.concat_blocks(list(pipeline.iter_blocks(ctx)))
    tables = {
        "employees": ctx.population.table,
        "calendar": ctx.timeline.calendar,
        "labels": pipeline.labels_table(ctx),
        **{name: to_pandas(name, chunk[name]) for name in ("ai_events", "work_items", "survey", "event_labels")},
    }
    for name, frame in tables.items():
        tables[name] = validate_table(name, frame)
    check_references(tables)
    return Company(**tables, meta=_meta(ctx))


def _manifest(meta: dict[str, Any], fmt: str, rows: dict[str, int], with_labels: bool,
              exports: list[str], export_files: list[Path]) -> dict[str, Any]:
    public = {name: rows[name] for name in PUBLIC_TABLES}
    return {
        "kind": MANIFEST_KIND,
        **{key: meta[key] for key in ("profile", "description", "employees", "days", "start_date",
                                      "end_date", "mandate_date", "generator_version")},
        "format": fmt,
        "files": {f"{name}.{fmt}": {"table": name, "rows": count} for name, count in public.items()},
        "label_files": [f"{name}.{fmt}" for name in LABEL_TABLES] if with_labels else [],
        "exports": exports,
        "export_files": sorted(path.name for path in export_files),
    }


_LEGACY_EXPORT_FILE = re.compile(r"^(copilot-usage-users\.ndjson|openai-usage-completions-page-\d{3}\.json"
                                 r"|m365-copilot-usage-user-detail\.csv)$")


def _owned_names(folder: Path, manifest: dict[str, Any]) -> set[str]:
    """The files a manifest says generate wrote: the only ones it may ever replace or delete."""
    names = {MANIFEST}
    files = manifest.get("files")
    if isinstance(files, dict):
        names.update(str(name) for name in files)
    for key in ("label_files", "export_files"):
        listed = manifest.get(key)
        if isinstance(listed, list):
            names.update(str(name) for name in listed)
    if "export_files" not in manifest and manifest.get("exports"):  # written before exports were listed
        names.update(entry.name for entry in folder.iterdir() if _LEGACY_EXPORT_FILE.match(entry.name))
    return {name for name in names if name and "/" not in name and name not in (".", "..")}


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("kind") == MANIFEST_KIND else None


def _foreign_entries(folder: Path) -> list[str]:
    """Entries of a folder that generate did not write (everything, if it holds no company)."""
    entries = sorted(entry.name for entry in folder.iterdir())
    manifest = _read_manifest(folder)
    owned = _owned_names(folder, manifest) if manifest is not None else set()
    return [name for name in entries if name not in owned or not (folder / name).is_file()
            or (folder / name).is_symlink()]


def _refuse_foreign(out: Path) -> None:
    foreign = _foreign_entries(out)
    if not foreign:
        return
    shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    if _read_manifest(out) is None:
        raise OutputError(f"{out} is not empty and does not hold a generated company ({shown}); "
                          "choose a new or empty folder")
    raise OutputError(f"{out} holds files generate did not write ({shown}); generate never deletes them: "
                      "move them elsewhere or choose another --out")


def _delete_owned(folder: Path) -> None:
    """Remove the files a (stale or replaced) output folder's manifest lists, then the folder if empty."""
    manifest = _read_manifest(folder)
    if manifest is not None:
        for name in sorted(_owned_names(folder, manifest) - {MANIFEST}) + [MANIFEST]:
            path = folder / name
            if path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass


def _prepare_output(out_dir: str | os.PathLike[str], fmt: str, export: str | None) -> Path:
    if fmt not in FORMATS:
        raise OutputError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if export is not None and export not in EXPORTS:
        raise OutputError(f"export must be one of {', '.join(EXPORTS)}, got {export!r}")
    out = Path(out_dir).expanduser().absolute()
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError(f"{out} exists and is not a folder")
    try:
        if out.is_dir():
            _refuse_foreign(out)
    except OSError as exc:
        raise OutputError(_environment_message(out, exc, "read")) from None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(_environment_message(out.parent, exc, "create")) from None
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into {out.parent}: permission denied")
    atomic.clean_stale(out, _delete_owned)
    return out


_ENVIRONMENT_HINTS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def _environment_message(out: Path, exc: OSError, verb: str = "write") -> str:
    """One line for a problem of the machine, not of the project: full disk, read-only, permissions."""
    hint = _ENVIRONMENT_HINTS.get(exc.errno or 0)
    if hint is None:
        text = str(exc)
        hint = next((hint for code, hint in _ENVIRONMENT_HINTS.items() if os.strerror(code) in text),
                    exc.strerror or text or type(exc).__name__)
    return f"cannot {verb} {out}: {hint}"


class _AtomicFolder:
    """Write into a hidden locked sibling folder; on success swap it in, on failure leave nothing behind.

    The swap is one atomic exchange of the two folders (datasets.atomic), so readers see the old
    company or the new one, never a missing or half-written folder. Only files the previous
    manifest lists are then deleted; a file the user added meanwhile is moved into the new folder.
    """

    def __init__(self, out: Path):
        self.out = out
        self._tmp: atomic.LockedTempDir | None = None

    def __enter__(self) -> Path:
        try:
            self._tmp = atomic.LockedTempDir(self.out)
        except OSError as exc:
            raise OutputError(_environment_message(self.out, exc)) from None
        return self._tmp.path

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self._tmp is not None
        tmp = self._tmp.path
        try:
            if exc_type is None:
                self._swap(tmp)
                return False
        except BaseException as error:
            exc = error
        finally:
            self._tmp.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OutputError(_environment_message(self.out, exc)) from None
        if exc_type is None:
            raise exc
        return False

    def _swap(self, tmp: Path) -> None:
        tmp.chmod(0o755)
        if self.out.exists():
            _refuse_foreign(self.out)  # again: the user may have added files while we generated
        old = atomic.replace_folder(tmp, self.out)
        if old is None:
            return
        _delete_owned(old)
        if old.exists():  # something appeared between the check and the swap: keep it, in the new folder
            for entry in sorted(old.iterdir()):
                if not (self.out / entry.name).exists():
                    entry.rename(self.out / entry.name)
            try:
                old.rmdir()
            except OSError:
                old.rename(old.with_name(f"{self.out.name}.kept-{old.name.rsplit('-', 1)[-1]}"))


def _export_builder(kind: str, employees: pd.DataFrame, meta: dict[str, Any]):
    try:
        from datasets.exports import ExportBuilder
    except ImportError as exc:
        raise OutputError(f"exports are not available in this installation: {exc}") from None
    return ExportBuilder(kind, employees=employees, meta=meta)


def _call_export(company: Company, kind: str, folder: Path) -> list[Path]:
    try:
        from datasets.exports import write_export
    except ImportError as exc:
        raise OutputError(f"exports are not available in this installation: {exc}") from None
    return list(write_export(company, kind, folder) or [])


def write_company(company: Company, out_dir: str | os.PathLike[str], fmt: Literal["parquet", "csv"] = "parquet",
                  with_labels: bool = False, export: str | None = None) -> Path:
    """Write the tables (and optionally labels and a vendor-shaped export) atomically; returns the folder."""
    out = _prepare_output(out_dir, fmt, export)
    if with_labels and (company.labels is None or company.event_labels is None):
        raise OutputError("this company has no labels to write (it was loaded without them)")
    tables = company.tables(with_labels=with_labels)
    for name, frame in tables.items():
        validate_table(name, frame)
    check_references(tables)
    with _AtomicFolder(out) as tmp:
        rows = {}
        for name, frame in tables.items():
            _write_table(name, from_pandas(name, frame), tmp, fmt)
            rows[name] = len(frame)
        export_files = _call_export(company, export, tmp) if export else []
        manifest = _manifest(company.meta, fmt, rows, with_labels, [export] if export else [], export_files)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def generate_to_dir(profile: str | Scenario, employees: int, days: int, seed: int,
                    out_dir: str | os.PathLike[str], fmt: Literal["parquet", "csv"] = "parquet",
                    with_labels: bool = False, export: str | None = None,
                    progress: bool | None = None, start_date: date | str | None = None) -> Path:
    """Generate and write a company of any size block by block, with bounded memory.

    The tables are the same as generate_company's for the same arguments: each block of employees
    has its own random stream, and the blocks are written in order as Parquet row groups or CSV
    appends. A writer thread encodes one block while the next is generated. Every block passes
    Arrow-level checks of the schema rules; the full pandera schemas run on the first block, and
    on every block of small companies. `progress=None` shows a progress bar for large companies.
    """
    ctx = _context(profile, employees, days, seed, start_date)
    out = _prepare_output(out_dir, fmt, export)
    expected_events = len(ctx.population) * ctx.timeline.days * 5
    show = progress if progress is not None else expected_events >= PROGRESS_EVENTS
    full_checks = expected_events < FULL_CHECK_EVENTS
    streamed = ["ai_events", "work_items", "survey"] + (["event_labels"] if with_labels else [])
    static = {"employees": ctx.population.table, "calendar": ctx.timeline.calendar}
    if with_labels:
        static["labels"] = pipeline.labels_table(ctx)
    for name, frame in static.items():
        validate_table(name, frame)
    check_references(static)
    employee_ids = set(ctx.population.table["employee_id"])

    exporter = _export_builder(export, ctx.population.table, _meta(ctx)) if export else None

    with _AtomicFolder(out) as tmp:
        rows = {name: len(frame) for name, frame in static.items()}
        for name, frame in static.items():
            _write_table(name, from_pandas(name, frame), tmp, fmt)
        writers = {name: open_writer(name, tmp, fmt) for name in streamed}
        bar = _progress_bar(show, len(ctx.population))
        checker = StreamChecker(ctx.timeline.start_ns, ctx.timeline.days, pipeline.BACKLOG_DAYS)
        lanes = _writer_lanes(streamed)
        pending: list[Future] = []
        try:
            with ThreadPoolExecutor(max_workers=1) as first, ThreadPoolExecutor(max_workers=1) as second:
                pools = (first, second)
                for block, chunk in enumerate(pipeline.iter_blocks(ctx)):
                    checker.check(chunk)
                    if full_checks or block == 0:
                        _check_chunk_with_pandera(chunk, employee_ids)
                    if exporter is not None:  # the export streams too: only per-user-day sums are kept
                        exporter.add(to_pandas("ai_events", chunk["ai_events"]))
                    for future in pending:  # at most one block waits to be written: bounded memory
                        future.result()
                    pending = [pool.submit(_write_chunk, writers, chunk, lane) for pool, lane in zip(pools, lanes)]
                    for name in streamed:
                        rows[name] = rows.get(name, 0) + chunk[name].num_rows
                    if bar is not None:
                        bar.update(min(pipeline.BLOCK_EMPLOYEES, bar.total - bar.n))
                for future in pending:
                    future.result()
        finally:
            for writer in writers.values():
                writer.close()
            if bar is not None:
                bar.close()
        export_files = exporter.write(tmp) if exporter is not None else []
        manifest = _manifest(_meta(ctx), fmt, rows, with_labels, [export] if export else [], export_files)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def _progress_bar(show: bool, total: int):
    if not show:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="employee", desc="generating", leave=False)


def _writer_lanes(streamed: list[str]) -> tuple[list[str], list[str]]:
    """Two writer threads: the big event table alone, everything else together (each file keeps one writer)."""
    return [name for name in streamed if name == "ai_events"], [name for name in streamed if name != "ai_events"]


def _write_chunk(writers: dict[str, Any], chunk: dict[str, pa.Table], names: list[str]) -> None:
    for name in names:
        writers[name].write(name, chunk[name])


def _check_chunk_with_pandera(chunk: dict[str, pa.Table], employee_ids: set[str]) -> None:
    """The full pandera schemas and reference checks on one streamed chunk."""
    frames = {name: to_pandas(name, table) for name, table in chunk.items()}
    for name, frame in frames.items():
        validate_table(name, frame)
    employees = pd.DataFrame({"employee_id": pd.array(sorted(employee_ids), dtype="str"),
                              "manager_id": pd.array([None] * len(employee_ids), dtype="str")})
    check_references({"employees": employees, **frames})


# --------------------------------------------------------------------------- loading

def load_company(directory: str | os.PathLike[str], with_labels: bool = True) -> Company:
    """Read a folder written by write_company/generate_to_dir back into a Company (labels if present)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise OutputError(f"{folder} is not a folder with a generated company")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutputError(f"{folder} has no {MANIFEST}: it does not hold a generated company") from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"{folder / MANIFEST} cannot be read: {exc}") from None
    fmt = manifest.get("format", "parquet")
    tables: dict[str, pd.DataFrame | None] = {}
    for name in ALL_TABLES:
        path = folder / f"{name}.{fmt}"
        if name in LABEL_TABLES and (not with_labels or not path.exists()):
            tables[name] = None
            continue
        if not path.exists():
            raise OutputError(f"{folder} is missing {path.name}")
        try:
            frame = to_pandas(name, read_table(name, path))
        except (pa.ArrowInvalid, OSError) as exc:
            raise OutputError(f"{path} cannot be read: {exc}") from None
        tables[name] = validate_table(name, frame)
    meta = {key: manifest.get(key) for key in ("profile", "description", "employees", "days", "start_date",
                                               "end_date", "mandate_date", "generator_version")}
    return Company(**tables, meta=meta)  # type: ignore[arg-type]

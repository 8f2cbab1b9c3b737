"""`theater generate` and `theater import`: the command-line faces of datasets.api and datasets.importers."""

from __future__ import annotations

import argparse
import copy
import json
import os
from pathlib import Path

from collections.abc import Callable, Iterable, Iterator

from datasets.profile_files import available_profiles

SECRET_ENV = "THEATER_SECRET"


class LazyHelpFormatter(argparse.HelpFormatter):
    """Help that leaves `LazyChoices` unread: argparse expands every action's choices for its help
    text, even where the text does not show them, which would import what the choices come from."""

    def _expand_help(self, action: argparse.Action) -> str:
        if isinstance(action.choices, LazyChoices) and "%(choices)" not in (action.help or ""):
            action = copy.copy(action)
            action.choices = None
        return super()._expand_help(action)


class CommandParser(argparse.ArgumentParser):
    """The `theater` parser and, through argparse's default, every subcommand's (LazyHelpFormatter)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", LazyHelpFormatter)
        super().__init__(*args, **kwargs)


class LazyChoices:
    """argparse `choices` read on first use, so `theater --help` and every other subcommand start
    without importing pandas and the vendor readers only to list what an option accepts."""

    def __init__(self, load: Callable[[], Iterable[str]]):
        self._load = load
        self._values: tuple[str, ...] | None = None

    def _all(self) -> tuple[str, ...]:
        if self._values is None:
            self._values = tuple(self._load())
        return self._values

    def __contains__(self, value: object) -> bool:
        return value in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())


def _formats() -> Iterable[str]:
    from datasets.api import FORMATS

    return FORMATS


def _exports() -> Iterable[str]:
    from datasets.api import EXPORTS

    return EXPORTS


def _import_kinds() -> Iterable[str]:
    from datasets.importers import IMPORTERS

    return sorted(IMPORTERS)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate a synthetic company with AI-usage logs",
        description="Generate a synthetic company (employees, AI events, work items, calendar, survey) "
                    "into a new folder. The same arguments always give byte-identical files.",
    )
    parser.add_argument("--profile", required=True, metavar="NAME",
                        help=f"company profile: {', '.join(available_profiles())}, or a path to a YAML file")
    parser.add_argument("--employees", required=True, type=int, metavar="N", help="number of employees")
    parser.add_argument("--days", required=True, type=int, metavar="N", help="length of the period in days")
    parser.add_argument("--seed", type=int, metavar="N", help="random seed (or use --learner and --secret)")
    parser.add_argument("--learner", metavar="ID", help="derive the seed from this learner id and --secret")
    parser.add_argument("--secret", metavar="S",
                        help=f"course secret used with --learner (default: ${SECRET_ENV}, which keeps it "
                             "out of the shell history)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="new or empty output folder")
    parser.add_argument("--format", choices=LazyChoices(_formats), default="parquet", metavar="FORMAT",
                        help="file format: parquet (default) or csv")
    parser.add_argument("--with-labels", action="store_true",
                        help="also write labels and event_labels (the hidden truth)")
    parser.add_argument("--export", choices=LazyChoices(_exports), metavar="KIND",
                        help="also write a vendor-shaped usage export: github-copilot, openai-usage or "
                             "m365-copilot")
    parser.add_argument("--start-date", metavar="YYYY-MM-DD", help="first day (default: the profile's)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_generate)

    importer = subparsers.add_parser(
        "import",
        help="read real AI-usage exports into one per-user-per-day CSV",
        description="Read vendor exports (GitHub Copilot usage-metrics NDJSON, OpenAI usage pages, Microsoft "
                    "365 Copilot CSV, Amazon Q Developer and Kiro CSV, Claude Code and Claude Enterprise "
                    "analytics, Cursor daily usage) into one tidy table: user, day, source, interactions, "
                    "acceptances, tokens_in, "
                    "tokens_out, lines_added, then any vendor columns (credits, adoption phase). GitHub's "
                    "team and repository reports each give a table of their own. FILE.csv.meta.json beside "
                    "it says what each column measures and which definition changes fall in the period.",
    )
    importer.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="export files or folders")
    importer.add_argument("--kind", choices=LazyChoices(_import_kinds), metavar="KIND",
                          help="the export kind, when it should not be detected from the content "
                               "(docs/exports.md lists them)")
    importer.add_argument("--out", required=True, type=Path, metavar="FILE.csv", help="where to write the table")
    importer.set_defaults(func=run_import)


def seed_from_args(seed: int | None, learner: str | None, secret: str | None) -> int:
    """Exactly one source of randomness: a seed, or a learner id with the course secret."""
    from datasets.api import GenerationError, learner_seed

    if secret is None and learner is not None and seed is None:
        secret = os.environ.get(SECRET_ENV) or None
    if seed is not None and (learner is not None or secret is not None):
        raise GenerationError("give either --seed or --learner with --secret, not both")
    if seed is not None:
        return seed
    if learner is None and secret is None:
        raise GenerationError("give --seed N, or --learner ID with --secret S")
    if learner is None or secret is None:
        raise GenerationError("--learner and --secret go together")
    return learner_seed(secret=secret, learner_id=learner)


def run_generate(args: argparse.Namespace) -> int:
    from datasets.api import generate_to_dir

    seed = seed_from_args(args.seed, args.learner, args.secret)
    out = generate_to_dir(args.profile, args.employees, args.days, seed, args.out, fmt=args.format,
                          with_labels=args.with_labels, export=args.export,
                          progress=False if args.quiet else None, start_date=args.start_date)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    rows = {entry["table"]: entry["rows"] for entry in manifest["files"].values()}
    print(f"wrote {out}: {rows['employees']:,} employees, {rows['ai_events']:,} AI events, "
          f"{rows['work_items']:,} work items ({manifest['profile']}, {manifest['start_date']} to "
          f"{manifest['end_date']}{', with labels' if args.with_labels else ''})")
    return 0


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


WRITE_ROWS = 100_000   # rows made safe and written at a time: the table is never held twice as text


def _safe_text(values):
    """A text column with an apostrophe before each cell a spreadsheet would run as a formula."""
    values = values.astype("string")
    risky = values.str.startswith(FORMULA_START).fillna(False)
    return values.where(~risky, "'" + values)


def spreadsheet_safe(table):
    """Text cells a spreadsheet would run as a formula (=, +, -, @, tab, CR first) get a leading
    apostrophe, the OWASP advice for CSV files that people open in Excel or Sheets.

    A categorical column (the usage table's user and source) is made safe through its few names,
    then written as plain text; float32 counts are written as float64 are, digit for digit."""
    import numpy as np
    import pandas as pd

    safe = table.copy(deep=False)
    for column in safe.columns:
        values = safe[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            names = np.asarray(_safe_text(pd.Series(values.cat.categories)).to_numpy(dtype=object), dtype=object)
            codes = values.cat.codes.to_numpy()
            text = names[codes] if len(names) else np.zeros(len(codes), dtype=object)
            text[codes < 0] = None
            safe[column] = pd.array(text, dtype="string")
        elif values.dtype == "float32":
            safe[column] = values.astype("float64")
        elif values.dtype.kind in "OSU" or str(values.dtype).startswith("string"):
            safe[column] = _safe_text(values)
    return safe


def write_csv(table, path: Path) -> None:
    """The table as a spreadsheet-safe CSV, WRITE_ROWS rows at a time (the bytes are those of
    writing the whole safe table at once with pandas). The usage table's rows are put together by
    whole columns (`_usage_rows`); any other table is written by pandas."""
    rows = WRITE_ROWS
    with path.open("wb") as out:
        for start in range(0, max(len(table), 1), rows):
            part = table.iloc[start:start + rows]
            lines = _usage_rows(part)
            if lines is None:
                out.write(spreadsheet_safe(part).to_csv(index=False, header=start == 0).encode("utf-8"))
                continue
            if start == 0:
                out.write(part.iloc[:0].to_csv(index=False).encode("utf-8"))   # the header, as pandas writes it
            out.write(lines)


def _csv_cell(text: str) -> str:
    """A text as pandas' to_csv writes it: through the csv module (QUOTE_MINIMAL, lines ended by
    "\\n", so a lone CR is not quoted), beside a blank cell as in a row of the table."""
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([text, ""])
    return buffer.getvalue()[:-2]


def _as_pandas_writes(values) -> list[str]:
    """Each value as pandas' to_csv writes it on its own (floats, dates; NaN and NaT as blank)."""
    import pandas as pd

    # beside a second column, as in the table (a row of one blank cell would be written '""')
    written = pd.DataFrame({"value": values, "other": 0}).to_csv(index=False, header=False, lineterminator="\n")
    return [line.rsplit(",", 1)[0] for line in written.split("\n")[:len(values)]]


def _usage_rows(part) -> bytes | None:
    """The CSV lines (UTF-8) of a slice of the usage table (categorical text, dates at midnight, float
    counts), a whole column at a time: each distinct name, day and count is formatted once, as
    pandas would, and pyarrow joins the cells. None for a column of another kind."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(part):
        return b""
    cells = []
    for column in part.columns:
        values = part[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            if values.isna().any():
                return None
            names = _safe_text(pd.Series(values.cat.categories, dtype="string")).tolist()
            texts, index = [_csv_cell(name) for name in names], values.cat.codes.to_numpy()
        elif values.dtype == "datetime64[ns]" or values.dtype.kind == "f":
            if values.dtype.kind == "M" and (values.dropna() != values.dropna().dt.normalize()).any():
                return None      # a time of day: pandas' own format then
            distinct, index = np.unique(values.to_numpy(dtype=values.dtype if values.dtype.kind == "M"
                                                        else np.float64), return_inverse=True)
            texts = _as_pandas_writes(pd.Series(distinct, dtype=values.dtype if values.dtype.kind == "M"
                                                else "float64"))
        else:
            return None
        cells.append(pa.array(texts, type=pa.large_string()).take(pa.array(index.astype(np.int64))))
    text = pa.large_string()
    cells[-1] = pc.binary_join_element_wise(cells[-1], pa.scalar("\n", text), pa.scalar("", text))
    lines = pc.binary_join_element_wise(*cells, pa.scalar(",", text))
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return lines.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]


def _inputs_of(paths: list[Path]) -> set[Path]:
    found = set()
    for path in paths:
        if path.is_dir():
            found.update(p.resolve() for p in path.iterdir() if p.is_file())
        elif path.exists():
            found.add(path.resolve())
    return found


def _write_metadata(out: Path, table) -> Path:
    """The sidecar beside the CSV: column roles, what the reports leave out, dated definition changes."""
    from datasets.api import GenerationError

    sidecar = out.with_name(out.name + ".meta.json")
    meta = {key: table.attrs.get(key, []) for key in ("roles", "notes", "definition_changes")}
    meta["duplicates"] = int(table.attrs.get("duplicates", 0))
    try:
        sidecar.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise GenerationError(f"cannot write {sidecar}: {exc.strerror or exc}") from exc
    return sidecar


def run_import(args: argparse.Namespace) -> int:
    from datasets.api import GenerationError
    from datasets.importers import ExportFormatError, read_exports

    out: Path = args.out
    if out.exists() and out.resolve() in _inputs_of(args.paths):
        raise ExportFormatError(f"--out {out} is one of the exports being read; writing there would "
                                "destroy it: choose another file")
    if out.is_dir():
        raise ExportFormatError(f"--out {out} is a folder; give a file name such as {out / 'usage.csv'}")
    sidecar = out.with_name(out.name + ".meta.json")
    if sidecar.exists() and sidecar.resolve() in _inputs_of(args.paths):
        raise ExportFormatError(f"--out {out} would write its notes to {sidecar}, one of the exports being "
                                "read: choose another file")
    table = read_exports(args.paths, kind=args.kind)
    partial = out.with_name(f".{out.name}.partial")
    try:
        write_csv(table, partial)
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise GenerationError(f"cannot write {out}: {exc.strerror or exc}") from exc
    sources = ", ".join(sorted(table["source"].unique()))
    duplicates = table.attrs.get("duplicates", 0)
    note = (f"; {duplicates:,} duplicate record(s) (same key and source, e.g. overlapping exports) "
            "counted once" if duplicates else "")
    if "repository" in table.columns:
        rows = f"{len(table):,} repository-days of {table['repository'].nunique():,} repositories"
    elif "team" in table.columns:
        rows = f"{len(table):,} memberships of {table['user'].nunique():,} users in {table['team'].nunique():,} teams"
    else:
        rows = f"{len(table):,} user-days of {table['user'].nunique():,} users"
    print(f"wrote {args.out}: {rows} ({sources}){note}")
    sidecar = _write_metadata(out, table)
    for change in table.attrs.get("definition_changes", []):
        print(f"series break: from {change['since']} {change['source']} {change['what']} (see {sidecar.name})")
    conflicts = table.attrs.get("conflicts", [])
    if conflicts:
        print(f"{len(conflicts):,} of the duplicates disagree on their counts; the record read later was kept:")
        for line in conflicts[:5]:
            print(f"  {line}")
        if len(conflicts) > 5:
            print(f"  ... and {len(conflicts) - 5:,} more")
    for line in table.attrs.get("skipped", []):
        print(f"skipped {line}")
    return 0

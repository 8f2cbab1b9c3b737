"""Tables between their three shapes: pandas (the Company), Arrow (generation, streaming) and files.

The contract's types live in datasets/schemas.py; this module only converts, reads and writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from datasets.schemas import ARROW_COLUMNS, DATE_COLUMNS, NULLABLE_INT_COLUMNS, SchemaViolation, arrow_schema

DELTA_COLUMNS = ("event_id", "session_id", "tokens_in", "tokens_out")


def parquet_options(name: str) -> dict[str, Any]:
    """Snappy pages; dictionaries for text; delta encoding for ids and counts (faster and smaller)."""
    text = [column for column, plain, _ in ARROW_COLUMNS[name] if plain == pa.string()]
    delta = {column: "DELTA_BINARY_PACKED" for column, _, _ in ARROW_COLUMNS[name] if column in DELTA_COLUMNS}
    options: dict[str, Any] = {"compression": "snappy", "store_schema": False, "use_dictionary": text or False,
                               "write_statistics": True}
    if delta:
        options["column_encoding"] = delta
    return options


def to_pandas(name: str, table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with the contract's dtypes (text as str, times as ns, nullable ints as Int64)."""
    table = to_arrow_plain(name, table)
    nullable_ints = set(NULLABLE_INT_COLUMNS.get(name, []))
    frame = table.to_pandas(date_as_object=False, types_mapper=None)
    for column in nullable_ints:
        frame[column] = table.column(column).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    for column in DATE_COLUMNS[name]:
        frame[column] = frame[column].astype("datetime64[ns]")
    for column, kind, _ in ARROW_COLUMNS[name]:
        if kind == pa.string():
            frame[column] = frame[column].astype("str")
    return frame


def to_arrow_plain(name: str, table: pa.Table) -> pa.Table:
    """Any representation of a table (pandas-made or streamed dictionaries) -> the canonical types."""
    schema = arrow_schema(name)
    columns = []
    for column, kind in zip(schema.names, schema.types):
        values = table.column(column)
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        if values.type != kind:
            values = values.cast(kind)
        columns.append(values)
    return pa.Table.from_arrays(columns, schema=schema)


def from_pandas(name: str, frame: pd.DataFrame) -> pa.Table:
    """pandas -> Arrow with the contract's types (dates as date32)."""
    data = {}
    for column, kind, _ in ARROW_COLUMNS[name]:
        series = frame[column]
        if kind == pa.date32():
            data[column] = pa.array(pd.to_datetime(series).dt.date.to_numpy(dtype=object), type=kind,
                                    from_pandas=True)
        elif kind == pa.string():
            data[column] = pa.array(series.astype(object).where(series.notna(), None).to_numpy(), type=kind)
        else:
            data[column] = pa.array(series, type=kind, from_pandas=True)
    return pa.table(data, schema=arrow_schema(name))


def to_arrow_streamed(name: str, table: pa.Table) -> pa.Table:
    """Canonical -> the dictionary-encoded types used when streaming large tables to Parquet."""
    schema = arrow_schema(name, streamed=True)
    columns = []
    for column, kind in zip(schema.names, schema.types):
        values = table.column(column)
        if values.type != kind:
            if pa.types.is_dictionary(kind) and not pa.types.is_dictionary(values.type):
                values = values.dictionary_encode()
            values = values.cast(kind)
        columns.append(values)
    return pa.Table.from_arrays(columns, schema=schema)


def for_csv(table: pa.Table) -> pa.Table:
    """Whole-second timestamps read better in CSV and lose nothing (events are on whole seconds)."""
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("s"), safe=False)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def write_table(name: str, table: pa.Table, folder: Path, fmt: str) -> Path:
    """One whole table as `<name>.parquet` or `<name>.csv` in `folder`."""
    path = folder / f"{name}.{fmt}"
    if fmt == "parquet":
        pq.write_table(to_arrow_streamed(name, table), path, **parquet_options(name))
    else:
        pacsv.write_csv(for_csv(to_arrow_plain(name, table)), path)
    return path


class _CsvAppender:
    def __init__(self, path: Path):
        self.handle = open(path, "wb")
        self.header = True

    def write(self, name: str, table: pa.Table) -> None:
        pacsv.write_csv(for_csv(to_arrow_plain(name, table)), self.handle,
                        write_options=pacsv.WriteOptions(include_header=self.header))
        self.header = False

    def close(self) -> None:
        self.handle.close()


class _ParquetAppender:
    def __init__(self, name: str, path: Path):
        self.writer = pq.ParquetWriter(path, arrow_schema(name, streamed=True), **parquet_options(name))

    def write(self, name: str, table: pa.Table) -> None:
        self.writer.write_table(to_arrow_streamed(name, table))

    def close(self) -> None:
        self.writer.close()


def open_writer(name: str, folder: Path, fmt: str):
    """An appender that writes a table block by block (Parquet row groups or CSV rows)."""
    if fmt == "parquet":
        return _ParquetAppender(name, folder / f"{name}.parquet")
    return _CsvAppender(folder / f"{name}.csv")


def read_table(name: str, path: Path) -> pa.Table:
    """A table file (Parquet or CSV) in the canonical Arrow types."""
    schema = arrow_schema(name)
    if path.suffix == ".parquet":
        table = pq.read_table(path)
    else:
        types = {column: (pa.timestamp("s") if pa.types.is_timestamp(kind) else kind)
                 for column, kind in zip(schema.names, schema.types)}
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False))
    missing = [column for column in schema.names if column not in table.column_names]
    if missing:
        raise SchemaViolation(f"{path}: missing column(s) {', '.join(missing)}")
    return to_arrow_plain(name, table.select(schema.names))

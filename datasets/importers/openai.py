"""OpenAI organization usage, completions (GET /v1/organization/usage/completions): JSON pages of
time buckets, or several pages saved together, read bucket by bucket (memory flat in file size)."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from datasets.importers.base import (
    ACTIVITY, CONSUMPTION, MAX_COUNT, UNATTRIBUTED, ExportFormatError, Head, JsonStream, Reader, Sink, count_of,
    identity, ndjson_head, ndjson_records, read_head, require, text_of, unix_day,
)

OPENAI_SHAPE = "OpenAI organization usage completions page"
OPENAI_COUNT_FIELDS = frozenset({"input_tokens", "output_tokens", "input_cached_tokens", "input_audio_tokens",
                                 "output_audio_tokens", "num_model_requests", "object"})


def _page_buckets(path: Path, where: str, page: dict) -> list:
    buckets = page["data"] or []
    if not isinstance(buckets, list):
        raise ExportFormatError(f"{path}: {where}'data' is not a list (not an {OPENAI_SHAPE})")
    return buckets


def _buckets(path: Path) -> Iterator[Any]:
    """Every bucket of a page (`{"data": [...]}`), of a list of pages or buckets, or of pages saved one
    per line, streamed: only one bucket (or one saved page) is decoded at a time."""
    head = read_head(path)
    if ndjson_head(head):
        for where, page in ndjson_records(path):
            if "data" not in page:
                raise ExportFormatError(f"{path}: {where}: expected a page with a 'data' list of buckets "
                                        f"(not an {OPENAI_SHAPE})")
            yield from _page_buckets(path, f"{where}: ", page)
        return
    stream = JsonStream(path)
    try:
        start = stream.peek()
        if start == "{":
            found = False
            for name, value in stream.members("data"):
                if name != "data":
                    continue
                found = True
                if not isinstance(value, Iterator):
                    if not isinstance(value, list):
                        raise ExportFormatError(f"{path}: 'data' is not a list (not an {OPENAI_SHAPE})")
                    value = iter(value)
                yield from value
            if not found:
                raise ExportFormatError(f"{path}: expected a page with a 'data' list of buckets "
                                        f"(not an {OPENAI_SHAPE})")
        elif start == "[":
            for item in stream.items():
                if isinstance(item, dict) and "data" in item and "start_time" not in item:
                    yield from _page_buckets(path, "", item)     # several response pages saved together
                else:
                    yield item
        else:
            stream.value()   # reports the syntax error with its line
            raise ExportFormatError(f"{path}: expected a page with a 'data' list of buckets (not an {OPENAI_SHAPE})")
        stream.end()
    finally:
        stream.close()


def _bucket_width(path: Path, where: str, bucket: dict, start: int) -> int:
    if bucket.get("end_time") is None:
        return 0
    end, _ = unix_day(path, where, bucket["end_time"], "end_time")
    return end - start


def _check_overlap(path: Path, sink: Sink, layout: tuple, start: int, end: int) -> None:
    """Two exports of the same period with another bucket width or grouping would each count every
    request once, so their sum counts it twice: refuse, naming both files."""
    seen = sink.coverage.setdefault("openai-usage", [])
    for other, other_layout, first, last in seen:
        if other != str(path) and other_layout != layout and start < last and end > first:
            raise ExportFormatError(
                f"{path}: covers the same hours as {other} with another bucket width or grouping "
                f"({_layout(layout)} against {_layout(other_layout)}); adding both would count each "
                "request twice: import one of them")
    for index, (other, other_layout, first, last) in enumerate(seen):
        if other == str(path) and other_layout == layout:
            seen[index] = (other, layout, min(first, start), max(last, end))
            return
    seen.append((str(path), layout, start, end))


def _layout(layout: tuple) -> str:
    width, fields = layout
    names = {60: "1m", 3600: "1h", 86400: "1d"}
    return f"buckets of {names.get(width, f'{width} s')}, grouped by {', '.join(fields) or 'nothing'}"



class _Block:
    """Records of plain buckets gathered for `Sink.add_block`: one Python step per result instead
    of `Sink.add`'s dozen, which is most of the time a 200 MB page takes."""

    LIMIT = 1 << 16

    def __init__(self, sink: Sink, kind: str) -> None:
        self.sink, self.kind = sink, kind
        self.users: list[int] = []
        self.days: list[int] = []
        self.splits: list[int] = []
        self.requests: list[int] = []
        self.tokens_in: list[int] = []
        self.tokens_out: list[int] = []

    def flush(self) -> None:
        if not self.users:
            return
        def counts(values: list[int]) -> np.ndarray:
            return np.array(values, dtype=np.float64)

        self.sink.add_block(
            np.array(self.users, dtype=np.int64), np.array(self.days, dtype=np.int64), self.kind,
            [counts(self.requests), None, counts(self.tokens_in), counts(self.tokens_out), None],
            splits=np.array(self.splits, dtype=np.int64))
        for column in (self.users, self.days, self.splits, self.requests, self.tokens_in, self.tokens_out):
            column.clear()


def _whole_counts(values: tuple) -> bool:
    """Every value a plain int in a count's range (anything else goes the checked way, which names it)."""
    return set(map(type, values)) == {int} and min(values) >= 0 and max(values) <= MAX_COUNT


COUNTS_OF = operator.itemgetter("num_model_requests", "input_tokens", "output_tokens")


class _PlainResults:
    """A bucket whose results all have one set of fields, plain counts and text users, read in bulk
    (each step over the results is one C-level pass); None from `read` sends the bucket through
    the per-result checks instead."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.layouts: dict[tuple, tuple] = {}        # field names -> (grouping names, their getter)
        self.groupings: dict[tuple, tuple] = {}      # (names, values) -> ((name, str(value)), ...)
        self.users: dict[Any, int] = {}              # user_id as found -> sink code

    def _layout(self, first: dict) -> tuple | None:
        names = tuple(first)
        known = self.layouts.get(names)
        if known is None:
            if not {"input_tokens", "output_tokens", "num_model_requests"} <= first.keys():
                return None
            grouping = tuple(sorted(n for n in names if n not in OPENAI_COUNT_FIELDS and n != "user_id"))
            getter = operator.itemgetter(*grouping) if grouping else (lambda r: ())
            known = self.layouts[names] = (grouping, getter, "user_id" in first)
        return known

    def _named(self, values: Any, grouping: tuple) -> tuple:
        """((name, str(value)), ...) as the per-result path builds it, one copy per distinct value
        (`values` is the value itself when the bucket is grouped by one field, as itemgetter gives it)."""
        key = (grouping, values)
        named = self.groupings.get(key)
        if named is None:
            shown = (values,) if len(grouping) == 1 else values
            named = self.groupings[key] = tuple(zip(grouping, map(str, shown)))
        return named

    def _user_code(self, user: Any) -> int | None:
        code = self.users.get(user)
        if code is None:
            if user is not None and type(user) is not str:
                return None              # a number, a list...: the checks say what is wrong
            text = UNATTRIBUTED if user is None else identity(user)
            if not text:
                return None              # an empty user_id: likewise
            code = self.users[user] = self.sink.code_of("user", text)
        return code

    def read(self, results: list, start: int, day: int, block: _Block) -> tuple | None:
        """The bucket's grouping names when it was read into `block`, else None (nothing added)."""
        if set(map(type, results)) != {dict} or len(set(map(tuple, results))) != 1:
            return None          # results with other fields, or in another order: one by one
        layout = self._layout(results[0])
        if layout is None:
            return None
        grouping, getter, has_user = layout
        requests, tokens_in, tokens_out = zip(*map(COUNTS_OF, results))
        if not (_whole_counts(requests) and _whole_counts(tokens_in) and _whole_counts(tokens_out)):
            return None
        values = list(map(getter, results))
        user_ids = list(map(operator.itemgetter("user_id"), results)) if has_user else [None] * len(results)
        try:
            distinct_values, distinct_users = set(values), set(user_ids)
        except TypeError:        # a list or an object as a grouping value or user: the checks take it
            return None
        user_codes = {user: self._user_code(user) for user in distinct_users}
        if None in user_codes.values():
            return None
        split_codes = {value: self.sink.code_of("split", (start, self._named(value, grouping)))
                       for value in distinct_values}
        block.users += map(user_codes.__getitem__, user_ids)
        block.days += [day] * len(results)
        block.splits += map(split_codes.__getitem__, values)
        block.requests += requests
        block.tokens_in += tokens_in
        block.tokens_out += tokens_out
        if len(block.users) >= block.LIMIT:
            block.flush()
        return grouping


class OpenAIUsageReader(Reader):
    """Completions usage buckets (any width) summed per user and UTC day across models and groupings."""

    kind = "openai-usage"
    shape = OPENAI_SHAPE
    roles = {"interactions": ACTIVITY, "tokens_in": CONSUMPTION, "tokens_out": CONSUMPTION}
    notes = ("input_tokens includes cached and cache-write tokens.",)

    def detect(self, head: Head) -> bool:
        first = head.first
        return first is not None and (first.get("object") in {"page", "bucket"} or "start_time" in first)

    def records(self, path: Path, sink: Sink) -> None:
        """Completions usage buckets (any width) summed per user and UTC day across models."""
        groupings: dict[tuple, tuple] = {}
        plain, block = _PlainResults(sink), _Block(sink, self.kind)
        for number, bucket in enumerate(_buckets(path), start=1):
            where = f"bucket {number}"
            if not isinstance(bucket, dict):
                raise ExportFormatError(f"{path}: {where}: expected a JSON object (not an {OPENAI_SHAPE})")
            require(path, where, bucket, ("start_time", "results"), OPENAI_SHAPE)
            start, day = unix_day(path, where, bucket["start_time"], "start_time")
            results = bucket["results"] or []
            if not isinstance(results, list):
                raise ExportFormatError(f"{path}: {where}: field 'results' is not a list")
            width = _bucket_width(path, where, bucket, start) if results else 0
            if results:
                grouping = plain.read(results, start, day.toordinal(), block)
                if grouping is not None:
                    _check_overlap(path, sink, (width, grouping), start, start + max(width, 1))
                    continue
            block.flush()          # the records keep their reading order (a later duplicate wins)
            layouts: set[tuple] = set()
            for index, result in enumerate(results, start=1):
                if not isinstance(result, dict):
                    raise ExportFormatError(f"{path}: {where} result {index}: expected a JSON object "
                                            f"(not an {OPENAI_SHAPE})")
                spot = f"{where} result {index}"
                require(path, spot, result, ("input_tokens", "output_tokens", "num_model_requests"), OPENAI_SHAPE)
                user = result.get("user_id")
                user = UNATTRIBUTED if user is None else text_of(path, spot, user, "user_id")
                # whatever the export was grouped by (project, key, model, api_source, ...) splits a bucket
                grouping = tuple(sorted((name, str(value)) for name, value in result.items()
                                        if name not in OPENAI_COUNT_FIELDS and name != "user_id"))
                grouping = groupings.setdefault(grouping, grouping)   # one copy of each, however many records
                layout = (width, tuple(n for n, _ in grouping))
                if layout not in layouts:
                    layouts.add(layout)
                    _check_overlap(path, sink, layout, start, start + max(width, 1))
                sink.add(user, day, self.kind, (
                    count_of(path, spot, result["num_model_requests"], "num_model_requests"),
                    np.nan,
                    count_of(path, spot, result["input_tokens"], "input_tokens"),
                    count_of(path, spot, result["output_tokens"], "output_tokens"),
                    np.nan,
                ), split=(start, grouping))   # one record per bucket, user and grouping
        block.flush()

"""The block reader parses CSV files in chunks cut after a line break: wherever a chunk ends (a
row, a quoted cell with a line break inside, CR line ends), the table or the message is the row
reader's."""

from unittest import mock

import pandas as pd
import pytest

from datasets.errors import UserError
from datasets.importers import fastcsv, read_export

HEADER = "UserId,Date,Chat_MessagesSent,Inline_AcceptanceCount,Chat_AICodeLines"


def _outcome(path):
    try:
        table = read_export(path)
    except UserError as error:
        return "error", str(error)
    return "table", table


def _same_as_row_reader(path):
    fast = _outcome(path)
    with mock.patch.object(fastcsv, "blocks", side_effect=fastcsv.NotFast):
        slow = _outcome(path)
    assert fast[0] == slow[0]
    if fast[0] == "table":
        pd.testing.assert_frame_equal(fast[1], slow[1], check_exact=True)
    else:
        assert fast[1] == slow[1]
    return fast


@pytest.mark.parametrize("chunk", [16, 37, 64, 1 << 20])
@pytest.mark.parametrize("body", [
    "".join(f"d-{n % 17},11-0{1 + n % 5}-2026,{n % 9},{n % 4},{n % 30}\n" for n in range(300)),
    "".join(f"d-{n % 17},11-0{1 + n % 5}-2026,{n % 9},{n % 4},{n % 30}\r\n" for n in range(300)),
    "".join(f"d-{n % 17},11-0{1 + n % 5}-2026,{n % 9},{n % 4},{n % 30}\r" for n in range(300)),
    'd-1,11-02-2026,3,1,4\n"d-\n2",11-02-2026,5,1,2\n' * 20,
    "d-1,11-02-2026,3,1,4\n\n\n   \nd-2,11-02-2026,5,1,2",
])
def test_a_chunk_may_end_anywhere(tmp_path, monkeypatch, chunk, body):
    monkeypatch.setattr(fastcsv, "CHUNK_BYTES", chunk)
    path = tmp_path / "amazon-q.csv"
    path.write_bytes((HEADER + "\n" + body).encode())
    kind, table = _same_as_row_reader(path)
    assert kind == "table" and len(table) > 0


@pytest.mark.parametrize("text", [
    HEADER + "\rd-1,11-02-2026,3,1,4\rd-2,11-02-2026,4,0,1\r",     # every line ended by CR alone
    HEADER + "\rd-1,11-02-2026,3,1,4",
    HEADER,                                                          # a header and nothing else
    HEADER + "\r\n",
])
def test_a_header_not_ended_by_a_line_feed_goes_to_the_row_reader(tmp_path, text):
    path = tmp_path / "amazon-q.csv"
    path.write_bytes(text.encode())
    kind, outcome = _same_as_row_reader(path)
    if "d-1" in text:
        assert kind == "table" and outcome["interactions"].tolist()[:1] == [3]


def test_a_plain_file_in_many_chunks_is_read_by_blocks(tmp_path, monkeypatch):
    from datasets.importers.amazon_q import AmazonQReader
    monkeypatch.setattr(fastcsv, "CHUNK_BYTES", 100)
    path = tmp_path / "amazon-q.csv"
    path.write_text(HEADER + "\n" + "".join(f"d-{n},11-02-2026,{n},1,2\n" for n in range(200)), encoding="utf-8")
    with mock.patch.object(AmazonQReader, "_rows", side_effect=AssertionError("read row by row")):
        table = read_export(path)
    assert sorted(table["interactions"].tolist()) == list(range(200))

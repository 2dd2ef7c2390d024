"""Reading employee files: encodings, separators, row validation, refusals (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from carwash.csvfile import FileRefused, parse_employees

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "employees.csv"
HEADER = "employee_number;first_name;last_name;email;role;hourly_wage;hired_on\r\n"


def test_the_example_file_keeps_good_rows_and_reports_each_bad_one() -> None:
    parsed = parse_employees(EXAMPLE.read_bytes())
    assert (parsed.encoding, parsed.delimiter) == ("utf-8", ",")
    assert parsed.rows_read == 11
    assert [line for line, _ in parsed.valid] == [2, 3, 4, 11, 12]
    assert parsed.rejected_rows == 6
    found = {(r.line, r.column) for r in parsed.rejections}
    assert found == {
        (5, "email"),
        (6, "role"),
        (7, "hourly_wage"),
        (8, "hired_on"),
        (9, None),
        (10, "employee_number"),
    }
    assert next(r for r in parsed.rejections if r.line == 9).reason == "expected 7 columns, found 5"
    assert "repeats line 3" in next(r for r in parsed.rejections if r.line == 10).reason
    ivan = dict(parsed.valid)[11]
    assert (ivan.role, ivan.hired_on, ivan.hourly_wage_cents) == ("cashier", None, 1575)


def test_a_bom_and_semicolons_are_recognised() -> None:
    data = "\ufeff".encode() + (HEADER + "7;Zoë;Ünal;z@example.com;washer;12,5;\r\n").encode()
    parsed = parse_employees(data)
    assert (parsed.encoding, parsed.delimiter) == ("utf-8-sig", ";")
    # "12,5" is not a wage in this format: a rejection, on the right column.
    assert [(r.line, r.column) for r in parsed.rejections] == [(2, "hourly_wage")]


def test_latin_1_accents_survive() -> None:
    data = (HEADER + "7;Zoë;Müller-Lüdenscheidt;z@example.com;washer;12.50;\r\n").encode("latin-1")
    parsed = parse_employees(data)
    assert parsed.encoding == "windows-1252"
    row = parsed.valid[0][1]
    assert (row.first_name, row.last_name) == ("Zoë", "Müller-Lüdenscheidt")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \r\n\r\n", "empty"),
        (bytes(range(256)) * 4, "binary"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "binary"),
        (b"a,b\r\n1,2\r\n", "lacks employee_number"),
        (b"just one line without separators\n", "no header row"),
    ],
)
def test_files_that_cannot_be_imported_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(FileRefused, match=reason):
        parse_employees(data)

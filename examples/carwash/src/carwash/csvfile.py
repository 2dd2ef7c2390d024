"""Reading an employee CSV as people write them: any of UTF-8 (with or without a BOM) or
Latin-1 (Windows-1252), comma/semicolon/tab/pipe separated, every row validated.

``parse_employees(data)`` refuses the whole file (``FileRefused``, with a reason a person
can act on) when it is empty, binary, or lacks a required column; otherwise it returns
the valid rows and a rejection (line, column, reason) for each problem in a bad row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator

REQUIRED = ("employee_number", "first_name", "last_name", "email", "role")
OPTIONAL = ("hourly_wage", "hired_on")
DELIMITERS = ",;\t|"
SAMPLE_BYTES = 64 * 1024


class FileRefused(Exception):
    """The file as a whole cannot be imported; the message says why."""


class EmployeeRow(BaseModel):
    """One valid row of an employee file."""

    model_config = ConfigDict(str_strip_whitespace=True)

    employee_number: str = Field(min_length=1, max_length=50)
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: EmailStr
    role: Literal["washer", "detailer", "cashier", "manager"]
    hourly_wage: Decimal | None = Field(default=None, ge=0, le=1000, decimal_places=2)
    hired_on: date | None = None

    @field_validator("hourly_wage", "hired_on", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("role", mode="before")
    @classmethod
    def _role_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def hourly_wage_cents(self) -> int | None:
        return None if self.hourly_wage is None else int(self.hourly_wage * 100)


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    column: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "reason": self.reason}


@dataclass
class ParsedFile:
    encoding: str
    delimiter: str
    rows_read: int = 0
    valid: list[tuple[int, EmployeeRow]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    rejected_rows: int = 0


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in; refuses empty and binary files."""
    if not data.strip():
        raise FileRefused("the file is empty")
    sample = data[:SAMPLE_BYTES]
    if b"\x00" in sample:
        raise FileRefused("the file is binary (or UTF-16): save it as CSV in UTF-8")
    controls = sum(1 for b in sample if b < 32 and b not in b"\t\r\n\f")
    if controls > len(sample) // 100:
        raise FileRefused("the file is binary, not a CSV text file")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def sniff_delimiter(header_line: str) -> str:
    """The separator of the header line: the candidate that splits it into most fields."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise FileRefused(
            "no header row with separated columns: the first line must name the columns "
            f"({', '.join(REQUIRED)})"
        )
    return best


def _column_name(raw: str) -> str:
    return raw.strip().lower().replace(" ", "_").replace("-", "_")


def check_header(data: bytes) -> tuple[str, str, str, list[str]]:
    """Decode the file and read its header: text, encoding, delimiter and column names.
    Raises ``FileRefused`` for an empty or binary file or a missing required column."""
    text, encoding = decode(data)
    text = text.lstrip("\r\n")
    delimiter = sniff_delimiter(text.splitlines()[0])
    header = [
        _column_name(name) for name in next(csv.reader([text.splitlines()[0]], delimiter=delimiter))
    ]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise FileRefused(
            f"the header row lacks {', '.join(missing)} (found: {', '.join(header)}); "
            f"required: {', '.join(REQUIRED)}"
        )
    return text, encoding, delimiter, header


def parse_employees(data: bytes) -> ParsedFile:
    """Every row of the file, validated (see the module docstring)."""
    text, encoding, delimiter, header = check_header(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader)  # the header, read above
    parsed = ParsedFile(encoding=encoding, delimiter=delimiter)
    first_seen: dict[str, int] = {}
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue  # blank lines are not rows
            parsed.rows_read += 1
            row, problems = _validate(header, values, line)
            if row is not None:
                earlier = first_seen.setdefault(row.employee_number, line)
                if earlier != line:
                    reason = f"employee_number {row.employee_number} repeats line {earlier}"
                    problems = [Rejection(line, "employee_number", reason)]
                else:
                    parsed.valid.append((line, row))
            if problems:
                parsed.rejected_rows += 1
                parsed.rejections.extend(problems)
    except csv.Error as exc:
        raise FileRefused(f"line {reader.line_num}: the CSV is malformed ({exc})") from None
    return parsed


def _validate(
    header: list[str], values: list[str], line: int
) -> tuple[EmployeeRow | None, list[Rejection]]:
    if len(values) != len(header):
        reason = f"expected {len(header)} columns, found {len(values)}"
        return None, [Rejection(line, None, reason)]
    record = {k: v for k, v in zip(header, values, strict=True) if k in REQUIRED + OPTIONAL}
    try:
        return EmployeeRow.model_validate(record), []
    except ValidationError as exc:
        return None, [
            Rejection(line, str(error["loc"][0]) if error["loc"] else None, error["msg"])
            for error in exc.errors()
        ]

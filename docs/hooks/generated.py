"""MkDocs hook: writes the settings and OpenAPI reference pages from the code at build time."""

from __future__ import annotations

import json
from typing import Any

from mkdocs.structure.files import File, Files


def _settings_page() -> str:
    from conveyor.settings import Settings

    prefix = str(Settings.model_config.get("env_prefix", "")).upper()
    rows = ["| setting | environment variable | type | default | meaning |", "|---|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        kind = getattr(field.annotation, "__name__", str(field.annotation)).replace("|", "\\|")
        default = "" if field.is_required() else f"`{field.default!r}`"
        rows.append(
            f"| `{name}` | `{prefix}{name.upper()}` | {kind} | {default} | "
            f"{field.description or ''} |"
        )
    return "# Settings\n\nGenerated from `conveyor.settings.Settings`.\n\n" + "\n".join(rows) + "\n"


def _openapi_page() -> str:
    from conveyor import Conveyor
    from conveyor.api import create_api

    document: dict[str, Any] = create_api(Conveyor("sqlite:///:memory:")).openapi()
    lines = ["# OpenAPI document", "", "Generated from `create_api(...).openapi()`.", ""]
    for path, operations in sorted(document.get("paths", {}).items()):
        for method, operation in operations.items():
            lines.append(f"## `{method.upper()} {path}`")
            lines.append("")
            lines.append(operation.get("summary") or operation.get("description") or "")
            lines.append("")
    lines += ["## The document", "", "```json", json.dumps(document, indent=2), "```", ""]
    return "\n".join(lines)


def on_files(files: Files, config: Any) -> Files:
    for uri, content in (
        ("reference/settings.md", _settings_page()),
        ("reference/openapi.md", _openapi_page()),
    ):
        files.append(File.generated(config, uri, content=content))
    return files

"""DESIGN.md rule 1, checked on the source: the core knows nothing of HTTP or of the surfaces,
and no surface imports another (they share only ``townhall.api.common``)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "townhall"

CORE_FORBIDDEN = ("fastapi", "starlette", "townhall.api", "townhall.app", "townhall.container")
SHARED_API = "common"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(source: str, module: str, is_package: bool = False) -> Iterator[str]:
    """Every module ``source`` imports (relative imports resolved), including ``x.name`` for
    ``from x import name`` since ``name`` may be a module."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def surface_of(module: str) -> str | None:
    """``chat`` for ``townhall.api.chat.x``; None outside the surfaces."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["townhall", "api"] else None


def violations_in(module: str, source: str, is_package: bool = False) -> list[str]:
    found = []
    for name in set(imports(source, module, is_package)):
        if within(module, "townhall.core"):
            found += [f"{module} imports {name}" for bad in CORE_FORBIDDEN if within(name, bad)]
        own, other = surface_of(module), surface_of(name)
        if own and other and other not in (own, SHARED_API):
            found.append(f"{module} imports {name} (another surface)")
    return sorted(found)


def all_violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += violations_in(module_name(path), path.read_text(), path.name == "__init__.py")
    return found


def test_the_package_is_where_the_checker_looks() -> None:
    assert (PACKAGE / "core").is_dir() and (PACKAGE / "api").is_dir()


def test_no_module_breaks_the_import_boundaries() -> None:
    assert all_violations() == []


def test_the_core_may_not_import_fastapi_starlette_or_the_api() -> None:
    source = "import fastapi\nfrom starlette.responses import Response\nfrom ...api import chat\n"
    assert violations_in("townhall.core.chat.service", source) == [
        "townhall.core.chat.service imports fastapi",
        "townhall.core.chat.service imports starlette.responses",
        "townhall.core.chat.service imports starlette.responses.Response",
        "townhall.core.chat.service imports townhall.api",
        "townhall.core.chat.service imports townhall.api.chat",
    ]


def test_a_surface_may_not_import_another_surface() -> None:
    source = "from townhall.api.social import schemas\nfrom ..forum.auth import check\n"
    assert violations_in("townhall.api.chat.routes", source) == [
        "townhall.api.chat.routes imports townhall.api.forum.auth (another surface)",
        "townhall.api.chat.routes imports townhall.api.forum.auth.check (another surface)",
        "townhall.api.chat.routes imports townhall.api.social (another surface)",
        "townhall.api.chat.routes imports townhall.api.social.schemas (another surface)",
    ]


def test_a_surface_may_import_itself_and_the_shared_api_helpers() -> None:
    source = "from townhall.api.chat import errors\nfrom ..common.surfaces import SURFACES\n"
    assert violations_in("townhall.api.chat.routes", source) == []


def test_the_shared_api_helpers_may_not_import_a_surface() -> None:
    source = "from townhall.api.chat.app import build_chat_app\n"
    assert violations_in("townhall.api.common.landing", source) != []

"""Layering of the social domain: accounts never depend on social; tables live in tables.py."""

from __future__ import annotations

import ast
from pathlib import Path

import townhall.core.accounts as accounts_package


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_accounts_domain_imports_nothing_of_the_social_domain() -> None:
    for path in Path(accounts_package.__file__).parent.glob("*.py"):
        assert not [m for m in _imports(path) if m.startswith("townhall.core.social")], path.name


def test_topic_tables_are_defined_in_the_social_tables_module() -> None:
    from townhall.core.social import tables, topics

    assert tables.topics.name == "topics" and tables.user_topics.name == "user_topics"
    assert topics.topics is tables.topics
    assert " Table(" not in Path(topics.__file__).read_text()


def test_sign_in_steps_that_write_are_named_do() -> None:
    from townhall.core.accounts import signin

    assert hasattr(signin, "do_request_code") and hasattr(signin, "do_check_code")
    assert not hasattr(signin, "check_code_request") and not hasattr(signin, "check_code")

"""The domain (ccr/services, ccr/notify) never imports a page or a socket module: it reaches
live sockets through ccr.services.live, which create_app binds to ccr.realtime."""

import ast
from pathlib import Path

import pytest

CCR = Path(__file__).resolve().parents[2] / "ccr"
DOMAIN = sorted(p for d in ("services", "notify") for p in (CCR / d).rglob("*.py"))
FORBIDDEN = (
    "ccr.auth",
    "ccr.admin",
    "ccr.agent",
    "ccr.customer",
    "ccr.chat",
    "ccr.realtime",
    "flask_socketio",
    "socketio",
)


def imports(source: str, package: str) -> set[str]:
    """Every module `source` (a module of `package`) imports, at its top or inside a
    function, relative imports resolved; "from ccr import chat" counts as ccr.chat."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def imports_of(path: Path) -> set[str]:
    parts = path.relative_to(CCR.parent).with_suffix("").parts
    package = ".".join(parts if path.name == "__init__.py" else parts[:-1])
    return imports(path.read_text(), package)


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_the_domain_modules_are_found():
    assert CCR / "services" / "messages.py" in DOMAIN and CCR / "notify" / "outbox.py" in DOMAIN


@pytest.mark.parametrize("path", DOMAIN, ids=lambda p: str(p.relative_to(CCR)))
def test_no_domain_module_imports_a_blueprint_or_a_socket_module(path):
    assert sorted(n for n in imports_of(path) if _forbidden(n)) == []


@pytest.mark.parametrize(
    "source,found",
    [
        ("from ccr.chat import presence", "ccr.chat.presence"),
        ("from ccr import chat", "ccr.chat"),
        ("def f():\n    import socketio.exceptions", "socketio.exceptions"),
        ("from ..realtime import push", "ccr.realtime.push"),
        ("from .. import auth", "ccr.auth"),
        ("from flask_socketio import emit", "flask_socketio"),
    ],
)
def test_the_walk_sees_every_kind_of_import(source, found):
    names = imports(source, "ccr.services")
    assert found in names and _forbidden(found)


def test_allowed_neighbours_are_not_taken_for_forbidden_ones():
    names = imports("from ccr import rooms\nimport socketserver\nfrom ccr.chatter import x", "ccr")
    assert not any(_forbidden(n) for n in names)

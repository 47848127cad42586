"""The layering rules of docs/design.md, checked on the source so that a change cannot quietly break
them: the domain (bot/) never imports Telegram except where the application is wired, only storage/
holds SQL, and handlers reach storage for record types at most, never for repositories."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WIRING = {"bot/app.py", "bot/__main__.py", "bot/runtime.py"}  # the wiring, the entry point and its runtime use PTB
SQL = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|SAVEPOINT|RELEASE|ROLLBACK|BEGIN)\b"
)  # SQL is upper case here
DB_CALLS = {"execute", "executemany", "executescript", "fetchone", "fetchall", "fetchval", "insert"}


def modules(*folders: str) -> Iterator[tuple[str, ast.Module]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            yield name, ast.parse(path.read_text(encoding="utf-8"), filename=name)


def imported(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_the_domain_never_imports_telegram() -> None:
    offenders = [
        f"{name}: {module}"
        for name, tree in modules("bot")
        if name not in WIRING
        for module in imported(tree)
        if module == "telegram" or module.startswith("telegram.")
    ]
    assert not offenders, offenders


def test_storage_never_imports_the_services_or_telegram() -> None:
    offenders = [
        f"{name}: {module}"
        for name, tree in modules("storage")
        for module in imported(tree)
        if module.startswith(("bot.services", "handlers", "telegram"))
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("folder", ["bot", "handlers"])
def test_sql_lives_only_in_storage(folder: str) -> None:
    offenders: list[str] = []
    for name, tree in modules(folder):
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                offenders.append(f"{name}:{node.lineno}: SQL text {node.value[:40]!r}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in DB_CALLS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("tx", "conn", "db")
            ):
                offenders.append(f"{name}:{node.lineno}: {node.func.value.id}.{node.func.attr}(...)")
    assert not offenders, offenders


def test_handlers_use_storage_for_record_types_only() -> None:
    """Handlers call services; from storage they may name record types (for annotations), never a
    repository or the database."""
    offenders = [
        f"{name}: {module}.{alias.name}"
        for name, tree in modules("handlers")
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("storage")
        for module in [node.module]
        for alias in node.names
        if alias.name.endswith("Repo") or module == "storage.db"
    ]
    assert not offenders, offenders


def _runtime_imports(name: str, tree: ast.Module) -> Iterator[str]:
    """Modules imported when ``name`` runs (at module level or inside functions), leaving out
    ``if TYPE_CHECKING:`` blocks; ``from pkg import sub`` counts as importing ``pkg.sub``."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                sub_path = ROOT / (sub.replace(".", "/") + ".py")
                yield sub if sub_path.exists() or (ROOT / sub.replace(".", "/")).is_dir() else node.module


def _module_name(path: str) -> str:
    name = path.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def test_no_import_cycles() -> None:
    """No module of bot/, handlers/ or storage/ imports itself through others (the typed context
    lives in leaf modules: ``bot.services.container`` and ``handlers.context``)."""
    graph: dict[str, set[str]] = {}
    for path, tree in modules("bot", "handlers", "storage"):
        name = _module_name(path)
        graph[name] = {m for m in _runtime_imports(path, tree) if m.split(".")[0] in ("bot", "handlers", "storage")}
    for name in graph:  # a package's __init__ is not a dependency of its submodules
        graph[name] = {m for m in graph[name] if m in graph and m != name}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, [" -> ".join(c) for c in cycles[:10]]


def test_handlers_and_web_routes_never_import_the_wiring() -> None:
    """``bot.app`` wires PTB to the handlers; what handlers and web routes share is in leaf modules."""
    offenders = [
        f"{name}: {module}"
        for name, tree in modules("handlers", "bot/web", "bot/services", "storage")
        for module in _runtime_imports(name, tree)
        if module in ("bot.app", "bot.runtime", "bot.__main__")
    ]
    assert not offenders, offenders


def test_one_place_registers_every_handler() -> None:
    """Every ``add_handler`` / ``add_error_handler`` is in ``handlers/__init__.py`` (``register``)."""
    offenders = [
        f"{name}:{node.lineno}"
        for name, tree in modules("bot", "handlers")
        if name != "handlers/__init__.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("add_handler", "add_handlers", "add_error_handler")
    ]
    assert not offenders, offenders

"""docs/deploy.md documents every environment variable the app, server and container read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    "ccr/config.py",
    "ccr/logs.py",
    "app.py",
    "gunicorn.conf.py",
    "docker/preflight.py",
    "docker/entrypoint.sh",
]
READS = re.compile(
    r"""(?:environ\.get|env\.get|_int|_bool|getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|\$\{([A-Z][A-Z0-9_]+)(?::-[^}]*)?\}"""
)


def _variables() -> set[str]:
    found = set()
    for name in SOURCES:
        for match in READS.finditer((ROOT / name).read_text()):
            found.add(match.group(1) or match.group(2))
    return found


def test_the_scan_finds_the_variables_it_should():
    found = _variables()
    assert {"SECRET_KEY", "DATABASE_URL", "PORT", "CCR_REPLICAS", "CCR_MIGRATE_ON_START"} <= found


def test_every_environment_variable_is_documented():
    doc = (ROOT / "docs" / "deploy.md").read_text()
    missing = sorted(v for v in _variables() if f"`{v}`" not in doc)
    assert not missing, f"add these to docs/deploy.md section 11: {missing}"

"""The README's way to change the port is the one the Makefile and the config implement."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_port_is_documented_and_passed_to_the_server():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "`make run PORT=" in readme
    assert "`CCR_HOST`, `CCR_PORT`" in readme
    run = re.search(r"^run:.*?(?=^\S)", makefile, re.M | re.S)
    assert run and "CCR_PORT=$(PORT)" in run.group(0) and "CCR_HOST=$(HOST)" in run.group(0)
    assert re.search(r"^PORT \?= 5000$", makefile, re.M)

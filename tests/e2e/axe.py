"""axe-core (the npm devDependency, node_modules/axe-core) run inside a Playwright page.

The script is evaluated through the DevTools protocol rather than added as a <script> tag
(page.add_script_tag): the pages' strict CSP refuses inline scripts, and the test should
see the pages under the policy they really have."""

from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# Everything axe checks by default (WCAG 2.0-2.2 A and AA, and its best practices), plus
# WCAG 2.2's target size (2.5.8), which axe leaves off unless asked.
OPTIONS = {"resultTypes": ["violations"], "rules": {"target-size": {"enabled": True}}}
_RUN = """async (options) => {
  const result = await axe.run(document, options);
  return result.violations.map((v) => ({
    id: v.id,
    help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ") + " :: " + n.failureSummary),
  }));
}"""


def load(page) -> None:
    """Put axe into the page as it is now (again after each navigation)."""
    assert AXE.exists(), "npm ci installs axe-core (a devDependency in package.json)"
    page.evaluate(AXE.read_text())


def violations(page) -> list[dict]:
    """What axe finds wrong with the page as it is now (load() it first)."""
    return page.evaluate(_RUN, OPTIONS)


def report(found: dict[str, list[dict]]) -> str:
    """The violations per page, one line per rule and one per element, for a failure."""
    lines = []
    for key, items in found.items():
        for v in items:
            lines.append(f"{key} {v['id']}: {v['help']}")
            lines.extend(f"    {node}" for node in v["nodes"])
    return "\n".join(lines)

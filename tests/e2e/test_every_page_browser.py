"""Every page of every role in one Chromium against one live server: axe-core (from npm,
node_modules/axe-core) finds no WCAG 2.2 AA violation at 1366 px and 375 px, and nothing
scrolls sideways at 360 px. With CCR_SCREENSHOTS=1 the run also rewrites the README's
screenshots (docs/screenshots/*.png); it always leaves them in test-output/."""

import base64
import os
from pathlib import Path

import pytest

from ccr.models import Role
from ccr.services import categories, tickets
from ccr.services.messages import post_message
from ccr.services.uow import commit
from tests.e2e import axe
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "every page checked twice"
AXE_WIDTHS = (1366, 375)
PHONE = 360
# The README's pictures: (role, page) -> the width they are taken at; scaled to SHOT_WIDTH.
SCREENSHOTS = {
    ("customer", "ticket"): 1366,
    ("customer", "dashboard"): 375,
    ("agent", "ticket"): 1366,
    ("admin", "dashboard"): 1366,
}

SHOT_WIDTH = 800
SCALE_DOWN = """async ({ png, width }) => {
  const img = new Image();
  img.src = "data:image/png;base64," + png;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = Math.min(width, img.width);
  canvas.height = Math.round(img.height * canvas.width / img.width);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/png").split(",")[1];
}"""

# What scrolls sideways: the page itself, or a box inside it (a table in .table-responsive).
SIDEWAYS = """() => {
  const found = [];
  const extra = document.documentElement.scrollWidth - window.innerWidth;
  if (extra > 0) found.push("page by " + extra + " px");
  for (const el of document.body.querySelectorAll("*")) {
    const overflow = getComputedStyle(el).overflowX;
    const over = el.scrollWidth - el.clientWidth;
    if ((overflow === "auto" || overflow === "scroll") && over > 1) {
      const name = el.id ? "#" + el.id : el.tagName.toLowerCase() + "." + el.className;
      found.push(name + " by " + over + " px");
    }
  }
  return found;
}"""


@pytest.fixture
def cast(app, make_user, backend):
    if backend != "sqlite":
        pytest.skip("one backend is enough for the browser sweep")

    def user(role, first, last, email):
        return make_user(role, email=email, password=PASSWORD, first_name=first, last_name=last)

    admin = user(Role.ADMIN, "Ada", "Admin", "ada.sweep@example.com")
    agent = user(Role.AGENT, "Priya", "Raman", "priya.sweep@example.com")
    user(Role.AGENT, "Maximilianus", "Longname-Example", "max.sweep@example.com")
    customer = user(Role.CUSTOMER, "Cara", "Customer", "cara.sweep@example.com")
    billing = categories.create_category("Billing", actor=admin)
    old = categories.create_category("Fax machines", actor=admin)
    categories.retire_category(old, actor=admin)
    commit()
    router = "It drops around 8 pm every evening.\nRestarting it helps for an hour or so."
    unbroken = "Line one\nLine two " + "x" * 200
    subjects = [
        ("Router keeps dropping the connection every evening", router, "start"),
        ("Invoice " + "without-any-spaces-" * 6, unbroken, "wait"),
        ("Cannot log in to the portal", "The password reset mail never came.", "resolve"),
        ("New modem", "Which model should I buy?", None),
    ]
    made = []
    for subject, description, verb in subjects:
        t = tickets.open_ticket(
            actor=customer, subject=subject, description=description, category_id=billing.id
        )
        commit()
        if verb:
            tickets.assign_ticket(t, agent, actor=admin)
            commit()
            tickets.change_status(t, verb, actor=agent)
            commit()
        made.append(t)
    tickets.open_ticket(actor=customer, subject="Unassigned question", description="Hello?")
    commit()
    main = made[0]
    post_message(main, customer, "It drops at 8 pm sharp.", "sweep1")
    post_message(main, agent, "Could you send the router's model?", "sweep2")
    post_message(main, agent, "Line test looks clean.", "sweep3", internal=True)
    commit()
    return {
        "admin": admin,
        "agent": agent,
        "customer": customer,
        "ticket": main.id,
        "waiting": made[1].id,
        "resolved": made[2].id,
    }


def pages_of(cast) -> dict[str, list[tuple[str, str]]]:
    t, resolved = cast["ticket"], cast["resolved"]
    return {
        "anonymous": [
            ("login", "/login"),
            ("register", "/register"),
            ("forgot", "/forgot-password"),
            ("reset", "/reset-password"),
            ("verify", "/verify-email"),
            ("invite-invalid", "/invite/not-a-real-token"),
            ("404", "/no-such-page"),
        ],
        "customer": [
            ("dashboard", "/customer/"),
            ("new-ticket", "/customer/tickets/new"),
            ("ticket", f"/customer/tickets/{t}"),
            ("ticket-waiting", f"/customer/tickets/{cast['waiting']}"),
            ("ticket-resolved", f"/customer/tickets/{resolved}"),
            ("close-confirm", f"/customer/tickets/{t}/close"),
            ("profile", "/profile"),
            ("404", "/customer/tickets/999999"),
        ],
        "agent": [
            ("dashboard", "/agent/"),
            ("ticket", f"/agent/tickets/{t}"),
            ("profile", "/profile"),
        ],
        "admin": [
            ("dashboard", "/admin/"),
            ("ticket", f"/admin/tickets/{t}"),
            ("agents", "/admin/agents"),
            ("agent-edit", f"/admin/agents/{cast['agent'].id}/edit"),
            ("categories", "/admin/categories"),
            ("audit", "/admin/audit"),
            ("mail", "/admin/mail"),
            ("404", "/admin/tickets/999999"),
        ],
    }


def _settle(page) -> None:
    """Wait until the page's socket (if it has one) connected and the first refresh landed."""
    page.wait_for_load_state("load")
    page.wait_for_function(
        """() => {
          const chat = document.getElementById('chat-status');
          return !chat || chat.dataset.state === 'connected';
        }"""
    )


def test_every_page_passes_axe_and_fits_a_phone(live_server, browser, cast, output_dir):
    srv = live_server()
    violations: dict[str, list] = {}
    too_wide: dict[str, int] = {}
    screenshots_dir = ROOT / "docs" / "screenshots" if os.environ.get("CCR_SCREENSHOTS") else None
    for role, pages in pages_of(cast).items():
        ctx = browser.new_context(base_url=srv.url, viewport={"width": 1366, "height": 900})
        page = ctx.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        if role != "anonymous":
            log_in(page, cast[role].email, PASSWORD)
        for name, path in pages:
            key = f"{role}/{name}"
            page.set_viewport_size({"width": 1366, "height": 900})
            page.goto(path)
            _settle(page)
            axe.load(page)
            for width in AXE_WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                found = axe.violations(page)
                if found:
                    violations[f"{key}@{width}"] = found
                if SCREENSHOTS.get((role, name)) == width:
                    _screenshot(page, output_dir, screenshots_dir, f"{role}-{name}-{width}")
            page.set_viewport_size({"width": PHONE, "height": 740})
            wide = page.evaluate(SIDEWAYS)
            if wide:
                too_wide[key] = wide
        assert errors == [], (role, errors)
        ctx.close()
    assert (violations, too_wide) == ({}, {}), (
        f"axe-core found:\n{axe.report(violations)}\nscrolling sideways at {PHONE} px: {too_wide}"
    )


def _screenshot(page, output_dir: Path, docs_dir: Path | None, name: str) -> None:
    """The viewport, scaled to SHOT_WIDTH px wide by the page's own canvas (no image library)."""
    shot = base64.b64encode(page.screenshot()).decode()
    small = page.evaluate(SCALE_DOWN, {"png": shot, "width": SHOT_WIDTH})
    data = base64.b64decode(small)
    (output_dir / f"{name}.png").write_bytes(data)
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        (docs_dir / f"{name}.png").write_bytes(data)

"""The shell at a 360 px phone width: no horizontal scrolling, labelled fields, screenshots."""

import pytest

from ccr.models import Role
from ccr.services import tickets
from ccr.services.uow import commit
from tests.e2e.conftest import log_in
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser
PHONES = [{"width": 360, "height": 740}, {"width": 375, "height": 812}]


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("phone", PHONES, ids=lambda p: f"{p['width']}x{p['height']}")
def test_pages_fit_a_phone_screen(app, live_server, make_user, new_page, output_dir, phone):
    customer = make_user(Role.CUSTOMER, first_name="Maximilianus", last_name="Longname-Example")
    ticket = tickets.open_ticket(
        actor=customer,
        subject="A very long subject line " + "without-any-spaces-" * 6,
        description="Line one\nLine two " + "x" * 300,
    )
    commit()
    srv = live_server()
    page = new_page(srv.url, viewport=phone)
    size = f"{phone['width']}x{phone['height']}"
    page.goto("/login")
    assert no_horizontal_scroll(page)
    # Every form field has a label a screen reader can announce.
    for field in ("email", "password"):
        assert page.get_by_label(field.capitalize()).count() == 1
    page.screenshot(path=str(output_dir / f"phone-{size}-login.png"), full_page=True)
    log_in(page, customer.email, PASSWORD)
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(output_dir / f"phone-{size}-customer-dashboard.png"), full_page=True)
    page.goto(f"/customer/tickets/{ticket.id}")
    assert page.locator(".ticket-description").inner_text().startswith("Line one\nLine two")
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(output_dir / f"phone-{size}-ticket.png"), full_page=True)


def test_keyboard_focus_is_visible(app, live_server, new_page):
    srv = live_server()
    page = new_page(srv.url)
    page.goto("/login")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")

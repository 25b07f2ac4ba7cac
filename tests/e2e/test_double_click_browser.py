"""A real Chromium double-clicks "Raise ticket": static/js/lib/forms.js lets the form go
once (the server would also answer a repeat with the first ticket: R11)."""

import pytest
from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import Role, Ticket
from tests.e2e.conftest import log_in
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser
RAISE = "#new-ticket-form button[type=submit]"


def test_double_clicking_raise_ticket_sends_the_form_once(
    app, make_user, live_server, new_page, backend
):
    if backend != "sqlite":
        pytest.skip("one backend is enough for the browser check")
    customer = make_user(Role.CUSTOMER)
    srv = live_server(CCR_OUTBOX_DISPATCHER="off")
    page = new_page(srv.url)
    log_in(page, customer.email, PASSWORD)
    page.goto("/customer/tickets/new")
    page.fill("input[name=subject]", "Clicked twice")
    page.fill("textarea[name=description]", "The button was double-clicked.")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    held = []  # the POST waits here: the second click lands while the first is in flight

    def hold(route):
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    page.route("**/customer/tickets/new", hold)
    box = page.locator(RAISE).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    with page.expect_request(lambda r: r.method == "POST"):
        page.mouse.click(x, y)  # the mouse itself: no waiting for the button to be enabled
    page.mouse.click(x, y)
    # Without the guard the second click sends a second POST at once; give it the chance.
    page.wait_for_timeout(500)
    for route in held:
        try:
            route.continue_()
        except Exception:  # noqa: BLE001 (a request the browser itself cancelled)
            pass
    page.wait_for_url(lambda url: "/tickets/new" not in url)
    page.wait_for_load_state("load")
    assert len(posts) == 1, posts
    assert "Clicked twice" in page.content()
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_a_page_restored_from_history_has_its_buttons_back(
    app, make_user, live_server, new_page, backend
):
    """The form went, the customer pressed Back: the button works again and a second ticket
    can be raised, whether the page comes back from the back/forward cache (forms.js gives
    the buttons back and the form a new key) or is loaded again."""
    if backend != "sqlite":
        pytest.skip("one backend is enough for the browser check")
    customer = make_user(Role.CUSTOMER)
    srv = live_server(CCR_OUTBOX_DISPATCHER="off")
    page = new_page(srv.url)
    log_in(page, customer.email, PASSWORD)
    page.goto("/customer/tickets/new")
    page.fill("input[name=subject]", "First")
    page.fill("textarea[name=description]", "One.")
    page.click(RAISE)
    page.wait_for_url(lambda url: "/tickets/new" not in url)
    page.go_back()
    page.wait_for_selector(RAISE)
    assert page.is_enabled(RAISE)
    page.fill("input[name=subject]", "Second")
    page.fill("textarea[name=description]", "Two.")
    page.click(RAISE)
    page.wait_for_url(lambda url: "/tickets/new" not in url)
    db.session.expire_all()
    subjects = set(db.session.scalars(select(Ticket.subject)))
    assert subjects == {"First", "Second"}

"""Playwright driving Debian's Chromium (/usr/bin/chromium) against a live server."""

import os

import pytest

CHROMIUM = os.environ.get("CCR_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Chromium is missing at {CHROMIUM}; `make test` installs it as root")
        pytest.skip(f"Chromium is missing at {CHROMIUM} (install Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, output_dir, request):
    """new_page(base_url, viewport=None) -> a page in its own context (its own cookies).
    Fails the test on any JavaScript dialog (XSS) or uncaught page error."""
    contexts = []
    problems: list[str] = []

    def make(base_url: str, viewport: dict | None = None):
        ctx = browser.new_context(
            base_url=base_url, viewport=viewport or {"width": 1280, "height": 900}
        )
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(10_000)

        def on_dialog(dialog):
            problems.append(f"dialog: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert problems == [], problems


def log_in(page, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def fill_registration(page, email: str, password: str, first="Nia", last="Okoro") -> None:
    """Open /register, fill it in as a newcomer does and send it."""
    page.goto("/register")
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.click("text=Create account")

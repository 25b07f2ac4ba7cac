"""Account requests that race: two registrations of one new address, two code requests at
once. Each request gets the answer it would have had coming second, never a 503, and one
code stays live. Real concurrent writers: threads against a live server, and units of work
on two database connections."""

import re
import threading

import requests
from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import CodePurpose, OneTimeCode, OutboxEmail, Role, User
from ccr.services import ServiceError, registration, staff, uow
from ccr.services.codes import RESET_CODE_TTL, issue_code
from ccr.services.users import EMAIL_TAKEN
from tests.support.users import PASSWORD

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _live_codes(email: str, purpose: CodePurpose) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(OneTimeCode)
        .join(User, User.id == OneTimeCode.user_id)
        .where(
            User.email == email,
            OneTimeCode.purpose == purpose,
            OneTimeCode.used_at.is_(None),
            OneTimeCode.cancelled_at.is_(None),
        )
    )


def _at_once(base: str, page: str, forms: list[dict]) -> list[requests.Response | BaseException]:
    """Each form posted to `page` by its own browser session, all released together."""
    sessions = [requests.Session() for _ in forms]
    tokens = [TOKEN.search(s.get(base + page, timeout=10).text).group(1) for s in sessions]
    barrier = threading.Barrier(len(forms), timeout=10)
    answers: list[requests.Response | BaseException] = [RuntimeError("not run")] * len(forms)

    def post(i: int) -> None:
        try:
            barrier.wait()
            answers[i] = sessions[i].post(
                base + page,
                data={"csrf_token": tokens[i], **forms[i]},
                timeout=30,
                allow_redirects=False,
            )
        except BaseException as exc:  # noqa: BLE001 (reported by the caller)
            answers[i] = exc

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(forms))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def test_two_registrations_of_one_new_address_at_once_both_get_the_normal_answer(
    app, live_server, backend
):
    srv = live_server(CCR_OUTBOX_DISPATCHER="off")
    for n in range(3):
        email = f"twice-{n}@example.com"
        forms = [
            {"email": email, "first_name": first, "last_name": "Doe",
             "password": PASSWORD, "confirm": PASSWORD}
            for first in ("Ann", "Ben")
        ]  # fmt: skip
        answers = _at_once(srv.url, "/register", forms)
        for answer in answers:
            assert isinstance(answer, requests.Response), answer
            assert answer.status_code == 302, answer.text[:500]
            assert "/verify-email" in answer.headers["Location"]
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).where(User.email == email)) == 1
        # Each was told a code was emailed; the later one's code replaced the earlier one's.
        sent = db.session.scalar(
            select(func.count()).where(
                OutboxEmail.recipient == email, OutboxEmail.kind == "verify_code"
            )
        )
        assert sent == 2
        assert _live_codes(email, CodePurpose.EMAIL_VERIFY) == 1
    assert "database unavailable" not in srv.log().lower()
    assert "IntegrityError" not in srv.log()


def test_two_reset_requests_at_once_leave_one_live_code(app, make_user, live_server, backend):
    users = [make_user(Role.CUSTOMER) for _ in range(3)]
    emails = [u.email for u in users]
    srv = live_server(CCR_OUTBOX_DISPATCHER="off")
    for email in emails:
        answers = _at_once(srv.url, "/forgot-password", [{"email": email}] * 2)
        for answer in answers:
            assert isinstance(answer, requests.Response), answer
            assert answer.status_code == 302, answer.text[:500]
        db.session.expire_all()
        assert _live_codes(email, CodePurpose.PASSWORD_RESET) == 1


def test_the_second_registration_waits_for_the_first_and_goes_on_as_second(app, backend):
    """Two units on two connections register one address; the second found it free before
    the first committed. Its insert waits on the first, then it replaces the never-verified
    account as a registration coming second does, with no error."""
    email = "race@example.com"
    first_inserted, first_may_commit = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with app.app_context():
            try:
                with uow.unit():
                    registration.register_customer(
                        email=email, first_name="Ann", last_name="Doe", password=PASSWORD
                    )
                    first_inserted.set()
                    first_may_commit.wait(20)
                outcome["first"] = "ok"
            except BaseException as exc:  # noqa: BLE001 (reported below)
                outcome["first"] = exc
                first_inserted.set()

    def second() -> None:
        with app.app_context():
            try:
                with uow.unit():
                    registration.register_customer(
                        email=email, first_name="Ben", last_name="Doe", password=PASSWORD
                    )
                outcome["second"] = "ok"
            except BaseException as exc:  # noqa: BLE001 (reported below)
                outcome["second"] = exc

    one = threading.Thread(target=first)
    one.start()
    assert first_inserted.wait(20)
    two = threading.Thread(target=second)
    two.start()
    two.join(1.0)
    assert two.is_alive()  # its insert waits for the first unit
    first_may_commit.set()
    one.join(20)
    two.join(30)
    assert outcome == {"first": "ok", "second": "ok"}
    db.session.expire_all()
    users = list(db.session.scalars(select(User).where(User.email == email)))
    assert [u.first_name for u in users] == ["Ben"]  # the latest registration replaced it
    assert _live_codes(email, CodePurpose.EMAIL_VERIFY) == 1


def test_the_second_code_waits_for_the_first_and_cancels_it(app, make_user, backend):
    email = make_user(Role.CUSTOMER).email
    first_issued, first_may_commit = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def issue(name: str, hold: bool) -> None:
        with app.app_context():
            try:
                with uow.unit():
                    user = db.session.scalar(select(User).where(User.email == email))
                    issue_code(user, CodePurpose.PASSWORD_RESET, RESET_CODE_TTL)
                    db.session.flush()
                    if hold:
                        first_issued.set()
                        first_may_commit.wait(20)
                outcome[name] = "ok"
            except BaseException as exc:  # noqa: BLE001 (reported below)
                outcome[name] = exc
                first_issued.set()

    one = threading.Thread(target=issue, args=("first", True))
    one.start()
    assert first_issued.wait(20)
    two = threading.Thread(target=issue, args=("second", False))
    two.start()
    two.join(1.0)
    assert two.is_alive()  # waiting for the user's row
    first_may_commit.set()
    one.join(20)
    two.join(20)
    assert outcome == {"first": "ok", "second": "ok"}
    db.session.expire_all()
    assert _live_codes(email, CodePurpose.PASSWORD_RESET) == 1


def test_two_admins_creating_one_agent_at_once_get_created_and_taken(app, make_user, backend):
    """The second admin's insert waits on the first's and is refused as if it came second."""
    admin_id = make_user(Role.ADMIN).id
    email = "new-agent@example.com"
    first_inserted, first_may_commit = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def create(name: str, hold: bool) -> None:
        with app.app_context():
            try:
                with uow.unit():
                    staff.create_agent(
                        actor=db.session.get(User, admin_id), email=email,
                        first_name=name, last_name="Agent", password=PASSWORD,
                    )  # fmt: skip
                    if hold:
                        first_inserted.set()
                        first_may_commit.wait(20)
                outcome[name] = "created"
            except ServiceError as exc:
                outcome[name] = str(exc)
            except BaseException as exc:  # noqa: BLE001 (reported below)
                outcome[name] = exc
            first_inserted.set()

    one = threading.Thread(target=create, args=("Ann", True))
    one.start()
    assert first_inserted.wait(20)
    two = threading.Thread(target=create, args=("Ben", False))
    two.start()
    two.join(1.0)
    assert two.is_alive()
    first_may_commit.set()
    one.join(20)
    two.join(20)
    assert outcome == {"Ann": "created", "Ben": EMAIL_TAKEN}

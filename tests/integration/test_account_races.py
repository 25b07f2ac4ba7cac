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
from ccr.services.codes import MAX_CODE_ATTEMPTS, RESET_CODE_TTL, consume_code, issue_code
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


def test_guesses_sent_at_once_are_each_counted(app, make_user, backend):
    """Parallel wrong guesses cannot share one attempt: five at once use up the code."""
    user = make_user(Role.CUSTOMER)
    code = issue_code(user, CodePurpose.PASSWORD_RESET, RESET_CODE_TTL)
    uow.commit()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    user_id = user.id
    gate = threading.Barrier(MAX_CODE_ATTEMPTS, timeout=10)
    answers: list[object] = []
    lock = threading.Lock()

    def guess() -> None:
        with app.app_context():
            try:
                with uow.unit():
                    who = db.session.get(User, user_id)
                    gate.wait()
                    answer: object = consume_code(who, CodePurpose.PASSWORD_RESET, wrong)
            except BaseException as exc:  # noqa: BLE001 (reported below)
                answer = exc
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=guess) for _ in range(MAX_CODE_ATTEMPTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers == [False] * MAX_CODE_ATTEMPTS
    db.session.expire_all()
    row = db.session.scalar(select(OneTimeCode).where(OneTimeCode.user_id == user_id))
    assert row.attempts == MAX_CODE_ATTEMPTS and row.cancelled_at is not None
    assert consume_code(db.session.get(User, user_id), CodePurpose.PASSWORD_RESET, code) is False


def test_two_admins_giving_two_agents_one_email_at_once_get_saved_and_in_use(
    app, make_user, backend
):
    admin_id = make_user(Role.ADMIN).id
    agent_ids = [make_user(Role.AGENT).id for _ in range(2)]
    email = "shared@example.com"
    first_saved, first_may_commit = threading.Event(), threading.Event()
    outcome: dict[int, object] = {}

    def edit(n: int, hold: bool) -> None:
        with app.app_context():
            try:
                with uow.unit():
                    staff.update_staff(
                        db.session.get(User, agent_ids[n]), actor=db.session.get(User, admin_id),
                        first_name="Agent", last_name=str(n), email=email,
                    )  # fmt: skip
                    if hold:
                        first_saved.set()
                        first_may_commit.wait(20)
                outcome[n] = "saved"
            except ServiceError as exc:
                outcome[n] = str(exc)
            except BaseException as exc:  # noqa: BLE001 (reported below)
                outcome[n] = exc
            first_saved.set()

    one = threading.Thread(target=edit, args=(0, True))
    one.start()
    assert first_saved.wait(20)
    two = threading.Thread(target=edit, args=(1, False))
    two.start()
    two.join(1.0)
    assert two.is_alive()
    first_may_commit.set()
    one.join(20)
    two.join(20)
    assert outcome == {0: "saved", 1: staff.EMAIL_IN_USE}

"""Account services without HTTP: code storage, password policy, names, the last-admin rule."""

import hmac

import pytest
from sqlalchemy import select

from ccr.extensions import db
from ccr.models import CodePurpose, OneTimeCode, Role
from ccr.services import Forbidden, ServiceError, passwords, registration, staff
from ccr.services import codes as one_time_codes
from ccr.services.security_log import security_event
from ccr.services.users import authenticate, name_problem


def test_passwords_over_72_bytes_are_refused_with_a_clear_message():
    assert "at most 72 bytes" in passwords.password_problem("a1b2" * 18 + "x")  # 73 ASCII bytes
    assert passwords.password_problem("a1b2" * 18) is None  # exactly 72 bytes
    with pytest.raises(passwords.PasswordPolicyError, match="72 bytes"):
        passwords.hash_password("ü" * 40)


def test_the_password_policy():
    assert "at least 8" in passwords.password_problem("short")
    assert "too common" in passwords.password_problem("password")
    assert passwords.password_problem("a long and unusual passphrase of many words") is None


PERSON = ("alice.smith84@example.com", "Alice", "Smithson")


@pytest.mark.parametrize(
    "password",
    [
        "alice.smith84@example.com",  # the email address
        "ALICE.SMITH84@EXAMPLE.COM",
        " alice.smith84@example.com ",
        "alice.smith84",  # its local part, with and without its digits
        "alice.smith",
        "Alice.Smith2024",
        "smithson",  # a name, with case, spaces, digits, punctuation
        "Smithson123",
        "2024Smithson!",
        "Alice Smithson",  # the full name, either order
        "smithsonalice",
        "noshtimS ecilA",  # reversed
        "moc.elpmaxe@48htims.ecila",
    ],
)
def test_a_password_may_not_be_the_email_or_the_name_or_a_trivial_variant(password):
    assert passwords.password_problem(password, PERSON) == passwords.PERSONAL_PROBLEM


@pytest.mark.parametrize(
    "password", ["alice in a wonderful land", "smithson's forge 1910", "correct horse battery"]
)
def test_a_password_that_only_contains_a_name_is_fine(password):
    assert passwords.password_problem(password, PERSON) is None


def test_a_password_with_control_characters_is_refused():
    assert passwords.password_problem("long enough\x00 passphrase") is not None


def test_every_service_that_sets_a_password_applies_the_personal_rule(app, make_user):
    with pytest.raises(passwords.PasswordPolicyError, match="your name"):
        registration.register_customer(
            email="nia.okoro@example.com", first_name="Nia", last_name="Okoro",
            password="nia.okoro@example.com",
        )  # fmt: skip
    admin = make_user(Role.ADMIN)
    with pytest.raises(passwords.PasswordPolicyError, match="your name"):
        staff.create_agent(
            actor=admin, email="sam@example.com", first_name="Samuel", last_name="Rivera",
            password="Rivera Samuel",
        )  # fmt: skip


def test_logging_in_with_the_stored_hash_fails(app, make_user):
    user = make_user()
    assert authenticate(user.email, user.password_hash) is None


@pytest.mark.parametrize(
    "name,ok",
    [
        ("Ada", True),
        ("Zoë O'Brien-Smith", True),
        ("", False),
        ("A\r\nBcc: x", False),
        ("<script>", False),
        ("x" * 101, False),
    ],
)
def test_names_are_validated(name, ok):
    assert (name_problem(name) is None) is ok


def test_a_reset_code_is_stored_only_as_a_keyed_hash(app, make_user, monkeypatch):
    user = make_user()
    sent = {}
    monkeypatch.setattr(one_time_codes, "new_code", lambda: sent.setdefault("code", "123456"))
    registration.request_password_reset(user.email)
    row = db.session.scalars(select(OneTimeCode)).one()
    assert row.purpose == CodePurpose.PASSWORD_RESET
    assert "123456" not in row.code_hash and len(row.code_hash) == 64
    expected = one_time_codes.keyed_hash(CodePurpose.PASSWORD_RESET, "123456", user.id)
    assert row.code_hash == expected
    # Keyed with SECRET_KEY: another key gives another hash.
    app.config["SECRET_KEY"] = "another-secret-key-entirely"
    assert one_time_codes.keyed_hash(CodePurpose.PASSWORD_RESET, "123456", user.id) != expected


def test_codes_are_compared_in_constant_time(app, make_user, monkeypatch):
    user = make_user()
    registration.request_password_reset(user.email)
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(one_time_codes.hmac, "compare_digest", spy)
    with pytest.raises(ServiceError):
        registration.reset_password(user.email, "999999x", "a fine new passphrase")
    assert len(calls) == 1


def test_codes_are_six_digits_from_secrets(monkeypatch):
    codes = {one_time_codes.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150
    monkeypatch.setattr(one_time_codes.secrets, "randbelow", lambda n: 42)
    assert one_time_codes.new_code() == "000042"


def test_the_last_active_admin_rule_at_the_service_level(app, make_user):
    admin = make_user(Role.ADMIN)
    with pytest.raises(ServiceError, match="last active administrator"):
        staff.deactivate_user(admin, actor=admin)
    with pytest.raises(ServiceError, match="last active administrator"):
        staff.set_role(admin, Role.AGENT, actor=admin)
    second = make_user(Role.ADMIN)
    staff.deactivate_user(admin, actor=second)
    assert not admin.is_active
    with pytest.raises(ServiceError, match="last active administrator"):
        staff.deactivate_user(second, actor=second)


def test_only_admins_manage_agents(app, make_user):
    agent, other = make_user(Role.AGENT), make_user(Role.AGENT)
    with pytest.raises(Forbidden):
        staff.deactivate_user(other, actor=agent)
    with pytest.raises(Forbidden):
        staff.create_agent(
            actor=agent, email="x@example.com", first_name="X", last_name="Y", password=None
        )
    assert other.is_active


def test_deactivation_bumps_the_session_version(app, make_user):
    admin, agent = make_user(Role.ADMIN), make_user(Role.AGENT)
    before = agent.session_version
    staff.deactivate_user(agent, actor=admin)
    assert agent.session_version == before + 1


def test_security_events_cannot_be_split_by_attacker_text(app, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="ccr.security")
    with app.test_request_context("/x"):
        security_event("access_denied", None, path="/a\nFAKE login_ok user=1")
    [record] = [r for r in caplog.records if r.name == "ccr.security"]
    assert "\n" not in record.getMessage() and "path=/a?FAKE?login_ok" in record.getMessage()
    assert record.getMessage().startswith("access_denied user=- ip=")

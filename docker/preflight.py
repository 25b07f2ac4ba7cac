"""Container start-up checks, run by docker/entrypoint.sh before the server starts.

Refuses the development SECRET_KEY (with a specific message when several replicas would
share it), then waits for the database named by DATABASE_URL to answer, for at most
CCR_DB_WAIT_SECONDS (default 60). Exit codes: 64 bad configuration, 69 database unreachable.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

EX_CONFIG = 64
EX_UNAVAILABLE = 69


def fail(code: int, message: str) -> None:
    print(f"ccr-entrypoint: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def check_secret() -> None:
    from ccr.config import DEV_SECRET_KEY

    secret = os.environ.get("SECRET_KEY", "")
    try:
        replicas = int(os.environ.get("CCR_REPLICAS", "1") or "1")
    except ValueError:
        fail(EX_CONFIG, "CCR_REPLICAS must be a whole number.")
    if secret and secret != DEV_SECRET_KEY:
        return
    if replicas > 1:
        fail(
            EX_CONFIG,
            f"Refusing to start: CCR_REPLICAS={replicas} but SECRET_KEY is unset or the "
            "development default. Every replica must share one random SECRET_KEY of at least "
            "32 characters, or sessions and reset codes break from one replica to the next.",
        )
    fail(
        EX_CONFIG,
        "Refusing to start: SECRET_KEY is unset or the development default. Set it to a "
        'random value (python -c "import secrets; print(secrets.token_hex(32))").',
    )


def wait_for_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url or url.startswith("sqlite"):
        return  # nothing to wait for (production config reports a missing URL itself)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        fail(EX_CONFIG, "DATABASE_URL is not a valid database URL.")
    shown = parsed.render_as_string(hide_password=True)
    connect_args = {"connect_timeout": 5} if parsed.get_backend_name() == "postgresql" else {}
    budget = float(os.environ.get("CCR_DB_WAIT_SECONDS", "60"))
    deadline = time.monotonic() + budget
    probe = "SELECT 1 FROM SYSIBM.SYSDUMMY1" if parsed.get_backend_name() == "db2" else "SELECT 1"
    engine = create_engine(url, connect_args=connect_args)
    attempt = 0
    try:
        while True:
            attempt += 1
            try:
                with engine.connect() as conn:
                    conn.execute(text(probe))
                return
            except Exception as exc:
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                if time.monotonic() >= deadline:
                    fail(
                        EX_UNAVAILABLE,
                        f"the database at {shown} did not answer within {budget:g} s "
                        f"({attempt} attempts); last error: {reason}",
                    )
                print(
                    f"ccr-entrypoint: waiting for the database at {shown} ({reason})",
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(min(2.0, max(deadline - time.monotonic(), 0.1)))
    finally:
        engine.dispose()


if __name__ == "__main__":
    check_secret()
    wait_for_database()

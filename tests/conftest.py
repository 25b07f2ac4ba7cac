"""The suite's fixtures, one plugin per concern under tests/support/:

- network_guard: no test reaches beyond this machine (loopback only).
- services: real PostgreSQL and Redis (CCR_TEST_DATABASE_URL, CCR_TEST_REDIS_URL; under
  CI=true a configured service that cannot be reached fails the run); `redis_url`.
- smtp: a real SMTP sink (`smtp_sink`, `mailbox`).
- database: `backend`, `database_url`, `app_config`, `app` (a fresh database per test, on
  SQLite and, when configured, PostgreSQL), `client`.
- users: `make_user`, `login_as` (and `login()`, `PASSWORD`).
- scene: `scene()`, a customer's ticket assigned to an agent by an admin.
- sockets: `socket_client`, the Socket.IO test client.
- live: `live_server`, the real app in a subprocess; `output_dir`.
"""

pytest_plugins = [
    "tests.support.network_guard",
    "tests.support.services",
    "tests.support.smtp",
    "tests.support.database",
    "tests.support.users",
    "tests.support.scene",
    "tests.support.sockets",
    "tests.support.live",
]

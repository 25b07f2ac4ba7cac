"""The routes anyone may reach without logging in. Every other route must require a login
(tests/web/test_access_matrix.py walks app.url_map against this list)."""

PUBLIC_ENDPOINTS = frozenset(
    {
        "static",
        "ops.healthz",
        "ops.readyz",
        "ops.favicon",
        # Says whether a page's origin may open a socket, for the page whose handshake was
        # refused (static/js/lib/socket.js); it tells nothing of any user.
        "chat.socket_origin",
        # Guarded by CCR_METRICS_TOKEN or a private network instead (tests/web/test_metrics.py).
        "metrics.metrics",
        "auth.index",
        "auth.login",
        "auth.register",
        "auth.verify_email",
        "auth.resend_verification",
        "auth.forgot_password",
        "auth.reset_password",
        "auth.accept_invite",
    }
)

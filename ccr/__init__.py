"""Customer Care Registry: the application factory (wiring only)."""

import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ccr import logs, metrics
from ccr.config import Config, load_config
from ccr.converters import IdConverter
from ccr.extensions import csrf, db, limiter, login_manager, migrate, socketio

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Config | str | None = None, **overrides) -> Flask:
    """Build the app. `config` is a Config object or a name (development/production/test)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=os.environ.get("CCR_INSTANCE_PATH", str(ROOT / "instance")),
    )
    cfg = config if isinstance(config, Config) else load_config(config)
    for key, value in overrides.items():
        setattr(cfg, key, value)
    cfg.validate()
    app.config.from_object(cfg)
    app.url_map.converters["id"] = IdConverter  # before any blueprint's routes
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logs.init_app(app)
    metrics.init_app(app)

    if app.config["CCR_PROXY_COUNT"]:
        n = app.config["CCR_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n
        )

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    # Importing a module of socket events declares them; register() binds them to the
    # Socket.IO server init_app made; the services reach its sockets through live.
    from ccr.chat import events  # noqa: F401
    from ccr.realtime import Sockets, dispatch
    from ccr.realtime.origins import socket_origins
    from ccr.services import live

    socketio.init_app(
        app,
        async_mode=app.config["CCR_ASYNC_MODE"],
        message_queue=app.config["REDIS_URL"],
        # python-engineio takes a callable (origin, environ) too; the stub says list only
        cors_allowed_origins=socket_origins(app),  # type: ignore[arg-type]
        max_http_buffer_size=app.config["CCR_SOCKET_MAX_BYTES"],
        manage_session=False,
        logger=False,
        engineio_logger=False,
    )
    dispatch.register(app)
    live.bind(Sockets())

    from ccr import boundary, security
    from ccr.admin import bp as admin_bp
    from ccr.agent import bp as agent_bp
    from ccr.auth import bp as auth_bp
    from ccr.chat import bp as chat_bp
    from ccr.cli import ccr_cli
    from ccr.customer import bp as customer_bp
    from ccr.errors import register_error_handlers
    from ccr.ops import bp as ops_bp

    security.init_app(app)
    register_error_handlers(app)
    app.register_blueprint(ops_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(customer_bp, url_prefix="/customer")
    app.register_blueprint(agent_bp, url_prefix="/agent")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(chat_bp, url_prefix="/chat")
    app.cli.add_command(ccr_cli)
    boundary.init_app(app)  # last: its hooks run around every other one
    return app

"""Live sockets: identity, event dispatch, presence and push. The only socket code; the
services reach it through ccr.services.live, which create_app binds to Sockets."""

from ccr.realtime import presence, push


class Sockets:
    """This process's Socket.IO sockets, as the services see them (ccr.services.live.Live)."""

    emit = staticmethod(push.emit)
    watching_sids = staticmethod(presence.watching_sids)
    is_watching = staticmethod(presence.is_watching)
    revoke = staticmethod(presence.revoke)
    disconnect_user = staticmethod(push.disconnect_user)

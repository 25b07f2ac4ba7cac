from flask import abort, current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user, login_required

from ccr.chat import bp
from ccr.chat.catchup import catch_up
from ccr.chat.forms import MessagePostForm
from ccr.errors import seconds_words
from ccr.realtime.origins import refusal
from ccr.realtime.ratelimit import socket_limits
from ccr.services import NotFound, ServiceError
from ccr.services.messages import post_message
from ccr.services.tickets import get_ticket_for
from ccr.urls import ticket_endpoint


@bp.get("/tickets/<id:ticket_id>/messages")
@login_required
def messages(ticket_id: int):
    """Catch-up as JSON: ?after_seq=<n>&after_note_seq=<n> (ccr.chat.catchup); the old
    ?after=<id> still answers by id."""
    try:
        ticket = get_ticket_for(ticket_id, current_user)
    except NotFound:
        abort(404)
    args = request.args
    return jsonify(
        catch_up(ticket, current_user, {**args.to_dict(), "after_id": args.get("after")})
    )


@bp.post("/tickets/<id:ticket_id>/messages")
@login_required
def post(ticket_id: int):
    """The no-JavaScript path: the same service as the socket event, then back to the page."""
    try:
        ticket = get_ticket_for(ticket_id, current_user)
    except NotFound:
        abort(404)
    form = MessagePostForm()
    page = url_for(ticket_endpoint(current_user.role), ticket_id=ticket.id)
    if not form.validate_on_submit():
        flash(
            "Your message could not be sent: "
            + "; ".join(e for errors in form.errors.values() for e in errors),
            "danger",
        )
        return redirect(page)
    # One per-user budget with the chat socket's send_message, in every process.
    wait = socket_limits(current_app).wait("send_message", current_user.id)
    if wait:
        flash(
            f"You are sending messages too quickly; try again in {seconds_words(wait)}.", "danger"
        )
        return redirect(page)
    try:
        post_message(
            ticket,
            current_user,
            form.body.data or "",
            form.client_id.data or "",
            internal=bool(form.internal.data),
        )
    except ServiceError as exc:
        flash(str(exc), "danger")
    return redirect(page + "#conversation")


@bp.get("/socket-origin")
def socket_origin():
    """Whether a page at ?origin= may open a socket here, and if not what to tell its user:
    a browser's refused handshake does not say why (static/js/lib/socket.js asks)."""
    origin = (request.args.get("origin") or "").strip()[:300]
    message = refusal(current_app, origin, request.environ)
    return jsonify({"ok": True, "allowed": message is None, "message": message})

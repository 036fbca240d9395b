"""Bearer tokens: who they act as, and every way one stops working (each a 401, audited as auth.failed)."""
from datetime import timedelta

from sqlalchemy import select

from archive.accounts import _token_id, create_token, create_user, revoke_token, set_active
from archive.models import AuditEvent, User


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def new_token(runtime, actor, username=None, expires_in=None, name="t"):
    with runtime.transaction() as session:
        expires_at = runtime.clock() + expires_in if expires_in is not None else None
        return create_token(session, runtime.clock, actor, name, ["file", "read"], username=username,
                            expires_at=expires_at)


def last_event(runtime):
    with runtime.sessions() as session:
        return session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()


def test_a_users_token_acts_as_the_user_and_a_bare_token_as_itself(client, runtime, system_actor):
    with runtime.transaction() as session:
        create_user(session, runtime.clock, system_actor, "mia", "staff")
    for token, expected in ((new_token(runtime, system_actor, username="mia", name="mine"), "user:mia"),
                            (new_token(runtime, system_actor, name="erp"), "token:erp")):
        assert client.get("/api/v1/customers", headers=bearer(token)).status_code == 200
        event = last_event(runtime)
        assert (event.action, event.actor) == ("customer.listed", expected)


def test_revoked_expired_and_disabled_tokens_are_refused(client, runtime, system_actor):
    with runtime.transaction() as session:
        user, _ = create_user(session, runtime.clock, system_actor, "leo", "staff")
        user_id = user.id
    revoked = new_token(runtime, system_actor, name="revoked")
    expired = new_token(runtime, system_actor, name="expired", expires_in=timedelta(seconds=-1))
    disabled = new_token(runtime, system_actor, username="leo", name="leo's")
    valid = new_token(runtime, system_actor, name="valid", expires_in=timedelta(hours=1))
    with runtime.transaction() as session:
        revoke_token(session, runtime.clock, system_actor, _token_id(revoked))
        set_active(session, runtime.clock, system_actor, user_id, False)
    for token in (revoked, expired, disabled, valid[:-1] + ("A" if valid[-1] != "A" else "B")):
        response = client.get("/api/v1/customers", headers=bearer(token))
        assert response.status_code == 401, token
        assert response.get_json()["code"] == "invalid_token"
        assert (last_event(runtime).action, last_event(runtime).outcome) == ("auth.failed", "denied")
    assert client.get("/api/v1/customers", headers=bearer(valid)).status_code == 200
    with runtime.sessions() as session:
        assert session.scalar(select(User.active).where(User.id == user_id)) is False

"""Who may read restricted documents (GDPR art. 17: erasure requested while a legal retention still binds).

Restricted documents are readable (metadata, content, search hits, dossier cards, exports) only by:
  - users whose role is records_manager or auditor (a token owned by a user acts with the user's role);
  - the system itself (tasks, the disposition machinery);
  - tokens owned by no user (service tokens) that carry the `audit` scope, as a service acting for auditors.
Administrators run the archive; they do not read restricted personal data. Every refusal is audited.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from archive.clock import Clock
from archive.errors import Forbidden
from archive.models import Document
from audit.log import Actor, append

ROLES_READING_RESTRICTED = ("records_manager", "auditor", "system")


def may_read_restricted(actor: Actor) -> bool:
    if actor.role is None:
        return "audit" in actor.scopes
    return actor.role in ROLES_READING_RESTRICTED


def readable(actor: Actor, document: Document) -> bool:
    return not document.restricted or may_read_restricted(actor)


def refusal(document_id: str) -> Forbidden:
    return Forbidden(f"document {document_id} is restricted (an erasure request is pending while its retention "
                     "runs): only records managers and auditors may read it", code="restricted")


def read_permitted(session: Session, clock: Clock, actor: Actor, document: Document, what: str) -> bool:
    """Whether the actor may read it; a refusal is audited in the session, and the caller raises `refusal` only
    after the commit, so that the record of the refusal stays."""
    if readable(actor, document):
        return True
    append(session, clock, actor, "document.access_refused", f"document:{document.id}",
           {"reason": "restricted", "access": what}, outcome="denied")
    return False

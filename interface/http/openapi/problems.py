"""The problem catalogue: every ``type`` an error answer (RFC 9457) can carry, with its
status, what it means and the members it adds.

The OpenAPI document gets a component per type (``ValidationFailedProblem``: the
``Problem`` shape with its ``type`` and ``status`` fixed and its own members required),
and each operation's error answers list the types they can carry (``x-problem-types``,
and in their description). tests/unit/test_problem_catalogue.py fails while code raises
a type this catalogue lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

URN = "urn:atende:problem:"

# The members some problems add, as JSON Schema.
MEMBERS: dict[str, dict[str, Any]] = {
    "slug": {"type": "string", "description": "The slug asked for."},
    "category_id": {
        "type": "string",
        "format": "uuid",
        "description": "The category that already has this name.",
    },
    "errors": {
        "type": "object",
        "description": "Each invalid field, parameter or header (dotted for nested fields, "
        "`_body` for the body as a whole) with its messages.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    "current_version": {
        "type": ["integer", "null"],
        "description": "The version now (null: the calendar does not exist): read it "
        "again, then retry with its ETag.",
    },
    "ticket_id": {
        "type": "string",
        "format": "uuid",
        "description": "The ticket that already has this external_ref.",
    },
    "webhook_id": {
        "type": "string",
        "format": "uuid",
        "description": "The subscription that already sends these events to this URL.",
    },
    "agent_id": {
        "type": "string",
        "format": "uuid",
        "description": "The agent already registered with this email.",
    },
    "policies": {
        "type": "array",
        "items": {"type": "string"},
        "description": "The SLA policies that use the calendar.",
    },
    "state": {
        "type": "string",
        "enum": ["expired", "voided"],
        "description": "Why the survey takes no more answers.",
    },
}


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    meaning: str
    members: tuple[str, ...] = ()
    sometimes: tuple[str, ...] = ()  # members some of its answers add

    @property
    def uri(self) -> str:
        return URN + self.slug

    @property
    def component(self) -> str:
        return "".join(word.capitalize() for word in self.slug.split("-")) + "Problem"


PROBLEM_TYPES: tuple[ProblemType, ...] = (
    ProblemType("invalid-json", 400, "Invalid JSON",
                "The body is not JSON, or is nested deeper than Atende reads."),
    ProblemType("bad-request", 400, "Bad request", "The request cannot be read as HTTP."),
    ProblemType("invalid-header", 400, "Invalid header", "A header's value is malformed."),
    ProblemType("missing-header", 400, "Missing header", "A required header is absent."),
    ProblemType("invalid-parameter", 400, "Invalid parameter",
                "A parameter cannot be read (not a number, not a uuid...)."),
    ProblemType("missing-parameter", 400, "Missing parameter", "A required parameter is absent."),
    ProblemType("unauthorized", 401, "Unauthorized",
                "No token, or a token that is unknown, revoked or expired."),
    ProblemType("forbidden", 403, "Forbidden",
                "The token's role does not allow this, or an agent's token acts on another "
                "agent."),
    ProblemType("not-found", 404, "Not found", "No such ticket, agent, calendar, token..."),
    ProblemType("unknown-channel", 404, "Unknown channel",
                "There is no intake for this channel."),
    ProblemType("method-not-allowed", 405, "Method not allowed",
                "The route does not take this method."),
    ProblemType("transition-not-allowed", 409, "Transition not allowed",
                "The ticket's status does not allow this command (a closed ticket takes none)."),
    ProblemType("write-conflict", 409, "Concurrent write conflict",
                "Other writes to the same ticket kept winning; retry."),
    ProblemType("duplicate-external-ref", 409, "Duplicate external_ref",
                "A ticket with this external_ref exists.", ("ticket_id",)),
    ProblemType("duplicate-agent", 409, "Duplicate agent",
                "An agent with this email is registered.", ("agent_id",)),
    ProblemType("agent-unavailable", 409, "Agent unavailable",
                "The agent is offline or deactivated (force assigns to an offline one)."),
    ProblemType("calendar-in-use", 409, "Calendar in use",
                "SLA policies use the calendar: it cannot be deleted.", ("policies",)),
    ProblemType("customer-erased", 409, "Customer erased",
                "The customer's personal data was erased: nothing new is stored for them."),
    ProblemType("request-in-flight", 409, "Request in flight",
                "A request with this Idempotency-Key is still running; retry after Retry-After."),
    ProblemType("idempotency-record-invalid", 409, "Idempotency record invalid",
                "The answer kept for this Idempotency-Key does not verify; use a new key."),
    ProblemType("duplicate-webhook", 409, "Duplicate webhook",
                "A subscription sends these events to this URL already.", ("webhook_id",)),
    ProblemType("duplicate-slug", 409, "Duplicate slug",
                "Another knowledge-base article has this slug.", ("slug",)),
    ProblemType("duplicate-category", 409, "Duplicate category",
                "A sibling category has this name in this language.", ("category_id",)),
    ProblemType("article-state", 409, "Article state",
                "The article is already published (or archived)."),
    ProblemType("token-revoked", 409, "Token not usable", "The token is revoked."),
    ProblemType("token-expired", 409, "Token not usable", "The token has expired."),
    ProblemType("survey-closed", 410, "Survey closed",
                "The survey expired, or its ticket was reopened.", ("state",)),
    ProblemType("precondition-failed", 412, "Precondition failed",
                "If-Match names a version the ticket has moved on from (current_version "
                "says which it is at), or is not a ticket's ETag.",
                sometimes=("current_version",)),
    ProblemType("body-too-large", 413, "Request body too large",
                "The body is larger than the route takes."),
    ProblemType("unsupported-media-type", 415, "Unsupported media type",
                "The body's Content-Type is not one the route takes."),
    ProblemType("validation-failed", 422, "Validation failed",
                "A field, query parameter or header is invalid; nothing was stored.",
                ("errors",)),
    ProblemType("rate-limited", 429, "Too many requests",
                "This token's (or, without one, this address's) budget is spent; see "
                "Retry-After and RateLimit-*."),
    ProblemType("too-many-auth-failures", 429, "Too many failed authentications",
                "This address sent too many bad credentials; see Retry-After."),
    ProblemType("internal-error", 500, "Internal server error",
                "An unexpected error, logged with the request's X-Request-Id."),
    ProblemType("unavailable", 503, "Service unavailable",
                "The database is unavailable or busy, or the worker is being replaced; "
                "retry after Retry-After."),
    ProblemType("storage-cannot-write", 503, "The database cannot accept writes",
                "The disk is full or read-only: an operator must act; retrying will not help."),
    ProblemType("view-behind", 503, "View is behind",
                "The view has not reached after_position yet; retry after Retry-After."),
)  # fmt: skip
BY_SLUG = {p.slug: p for p in PROBLEM_TYPES}


def components(schemas: dict[str, Any]) -> None:
    """The members problems add, on ``Problem``; and one component per problem type, each
    the ``Problem`` shape narrowed."""
    generic = schemas["Problem"]
    generic["properties"].update(MEMBERS)
    for member, meaning in (
        ("title", "The type, for people."),
        ("status", "The HTTP status."),
        ("detail", "This occurrence, for people."),
    ):
        generic["properties"][member]["description"] = meaning
    generic["properties"]["type"]["description"] = (
        f"{URN}<slug>: one of the *Problem components (a status Atende does not name "
        f"otherwise is {URN}http-<status>)."
    )
    for problem in PROBLEM_TYPES:
        # Whole, not allOf the generic shape: generators cannot merge a const into the
        # generic's plain string.
        schemas[problem.component] = {
            "type": "object",
            "description": f"{problem.meaning} ({problem.status} {problem.title})",
            "required": ["type", "title", "status", "detail", *problem.members],
            "properties": {
                "type": {"type": "string", "const": problem.uri, "description": "The type."},
                "title": {"type": "string", "description": "The type, for people."},
                "status": {
                    "type": "integer",
                    "const": problem.status,
                    "description": "The HTTP status.",
                },
                "detail": {"type": "string", "description": "This occurrence, for people."},
                **{m: MEMBERS[m] for m in (*problem.members, *problem.sometimes)},
            },
        }


def types_for(status: int, *, idempotent: bool, intake: bool) -> list[ProblemType]:
    """The problem types an operation's answer with this status can carry."""
    found = [p for p in PROBLEM_TYPES if p.status == status]
    if not idempotent:
        found = [p for p in found if p.slug not in ("request-in-flight", "idempotency-record-invalid")]  # noqa: E501
    if not intake:
        found = [p for p in found if p.slug != "unknown-channel"]
    return found


def schema_of(types: list[ProblemType]) -> dict[str, Any]:
    """Any of the types (typed, for clients that parse them), or any problem at all: a
    client generated today still reads a type added tomorrow."""
    generic = {"$ref": "#/components/schemas/Problem"}
    if not types:
        return generic
    return {"anyOf": [*({"$ref": f"#/components/schemas/{p.component}"} for p in types), generic]}


def described(status: int, phrase: str, types: list[ProblemType]) -> str:
    named = ", ".join(f"`{p.slug}`" for p in types)
    return f"{phrase}. Problem types: {named}." if types else phrase


def render_markdown() -> str:
    """docs/problems.md (``python -m interface.http.openapi.problems > docs/problems.md``)."""
    lines = [
        "# Problem types",
        "",
        "Every error answer is `application/problem+json` (RFC 9457): `type`, `title`,",
        "`status`, `detail`, and for some types the members below. `type` is",
        f"`{URN}<slug>`; a status Atende does not name otherwise is `{URN}http-<status>`.",
        "In the OpenAPI document each type is a component (`ValidationFailedProblem`...) and",
        "each error answer lists the types it can carry (`x-problem-types`).",
        "",
        "Answers that may be retried carry `Retry-After` (seconds). Every answer of a",
        "rate-limited route carries `RateLimit-Limit`, `RateLimit-Remaining`,",
        "`RateLimit-Reset` and `RateLimit-Policy` (the IETF httpapi draft's fields).",
        "",
        "This page is generated: `python -m interface.http.openapi.problems > docs/problems.md`.",
        "",
        "| type | status | meaning | members |",
        "|---|---|---|---|",
    ]
    for problem in PROBLEM_TYPES:
        members = [f"`{m}`" for m in problem.members]
        members += [f"`{m}` (sometimes)" for m in problem.sometimes]
        lines.append(
            f"| `{problem.slug}` | {problem.status} | {problem.meaning} | "
            f"{', '.join(members) or '-'} |"
        )
    lines += ["", "## Members", ""]
    for name, schema in MEMBERS.items():
        lines.append(f"- `{name}`: {schema['description']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")

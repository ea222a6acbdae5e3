"""Events holding text a database cannot store in a view (NUL, which PostgreSQL refuses;
lone surrogates, which no driver encodes), written through the application as events
from before the HTTP boundary refused them were: every view applies them, replacing
what it cannot store, the events keep their text, and the live views equal a rebuild.
A property feeds text from all of Unicode through the application's commands."""

from __future__ import annotations

import contextlib
import io
import uuid

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.actor import Actor
from domain.customer import Contact
from infrastructure.projector import ViewFollower
from infrastructure.rebuild import rebuild
from infrastructure.views.registry import VIEWS
from infrastructure.views.storable import REPLACEMENT
from tests.integration.builders import AGENT, open_ticket

ADMIN = Actor(id="admin-token", name="ops", role="admin")


def live_followers(atende):
    return {
        name: ViewFollower(atende.tickets, VIEWS[name].projection(view=view))
        for name, view in atende.views.items()
    }


def catch_up_and_compare_with_rebuilds(atende, followers):
    """Every view reaches the head, then holds exactly what a rebuild from the log holds."""
    head = atende.tickets.head_position()
    for name, follower in followers.items():
        follower.catch_up()
        assert follower.position() == head, name
    for name, view in atende.views.items():
        live = view.rows()
        rebuild(atende, name, io.StringIO())
        assert atende.views[name].rows() == live, name


def test_events_holding_nul_are_applied_by_every_view_and_equal_a_rebuild(atende, backend):
    followers = live_followers(atende)
    agent, _ = atende.tickets.agents.register(
        name="Mar\x00ia", email="maria@example.com", languages=["es"], skills=["re\x00des"],
        generalist=True, capacity=5, actor=ADMIN,
    )  # fmt: skip
    opened = open_ticket(
        atende,
        subject="Sin\x00internet",
        contact=Contact(name="Ana\x00Souza", email="ana@example.com"),
        category="re\x00des",
        tags=["v\x00ip"],
        external_ref="CRM\x00-1",
    )
    tid = opened.ticket.id
    atende.tickets.assign(tid, agent.id, force=True, actor=ADMIN)
    atende.tickets.change(tid, lambda t: t.change_category("fac\x00turas", AGENT))
    atende.tickets.change(tid, lambda t: t.change_tags(["ur\x00gente"], ["v\x00ip"], AGENT))

    catch_up_and_compare_with_rebuilds(atende, followers)

    # PostgreSQL's rows hold the replacement character; SQLite stores NUL as it is.
    kept = "\x00" if backend == "sqlite" else REPLACEMENT
    (row,) = atende.views["queue"].rows()
    assert row["subject"] == f"Sin{kept}internet"
    assert row["requester_name"] == f"Ana{kept}Souza"
    assert row["category"] == f"fac{kept}turas"
    assert row["tags"] == [f"ur{kept}gente"]
    (listed,) = atende.views["ticket_list"].rows()
    assert listed["external_ref"] == f"CRM{kept}-1"
    (routed,) = atende.views["routing"].rows()["agents"]
    assert routed["name"] == f"Mar{kept}ia"
    # The events keep the text as it was written.
    ticket = atende.tickets.get_ticket(tid)
    assert ticket.subject.text == "Sin\x00internet" and ticket.category == "fac\x00turas"


# All of Unicode: NUL, other controls and lone surrogates (category Cs) included.
any_text = st.text(st.one_of(st.just("\x00"), st.characters(exclude_categories=())), max_size=12)
# A command of the application, the text it writes, and which of the tickets it acts on.
steps = st.lists(
    st.tuples(
        st.sampled_from(["message", "category", "tags", "agent", "assign"]),
        any_text,
        st.integers(0, 1),
    ),
    max_size=8,
)


def run_step(atende, tickets, agents, command, text, which):
    tid = tickets[which]
    if command == "message":
        atende.tickets.change(
            tid, lambda t: t.add_message(text or "x", "customer", None, "public", None, AGENT)
        )
    elif command == "category":
        atende.tickets.change(tid, lambda t: t.change_category(text or None, AGENT))
    elif command == "tags":
        atende.tickets.change(tid, lambda t: t.change_tags([text], [], AGENT))
    elif command == "agent":
        agent, _ = atende.tickets.agents.register(
            name=text or "x", email=f"{uuid.uuid4().hex}@example.com", languages=["es"],
            skills=[text], generalist=False, capacity=3, actor=ADMIN,
        )  # fmt: skip
        agents.append(agent.id)
    elif agents:
        atende.tickets.assign(tid, agents[-1], force=True, actor=ADMIN)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(opening=st.tuples(any_text, any_text, any_text, any_text), steps=steps)
@example(opening=("\x00", "\ud800", "a\x00", "\x00\udfff"), steps=[("agent", "\x00", 0)])
def test_live_views_equal_a_rebuild_whatever_text_the_commands_wrote(atende, opening, steps):
    subject, name, category, ref = opening
    followers = live_followers(atende)
    tickets, agents = [], []
    for i in range(2):
        # Text no event can hold (a lone surrogate, refused by the event store's
        # encoding) fails the command and stores nothing; the rest is stored as it is.
        with contextlib.suppress(UnicodeEncodeError):
            opened = open_ticket(
                atende, subject=subject or "s", category=category or None, tags=[category],
                contact=Contact(name=name or "n", email=f"c{i}@example.com"),
                external_ref=f"{ref}{uuid.uuid4().hex}",  # unique across examples
            )  # fmt: skip
            tickets.append(opened.ticket.id)
        tickets = tickets or [open_ticket(atende).ticket.id]
    tickets *= 2
    for command, text, which in steps:
        with contextlib.suppress(UnicodeEncodeError):
            run_step(atende, tickets, agents, command, text, which)
        followers["queue"].step()  # the live views keep up in uneven batches
    catch_up_and_compare_with_rebuilds(atende, followers)

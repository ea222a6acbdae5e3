"""A help-centre visitor's answer to "was this article helpful?" (issue 23).

Each answer is an aggregate of one event, not an event of the article: public answers
must never move an article's version (an editor's If-Match would fail for no change of
theirs, Clarification 7), and as aggregates of their own they never contend with each
other, however many visitors answer at once. The ``kb`` view counts them per article.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor

# Who answers: someone on the public help centre, with no token.
VISITOR = Actor(id="help-centre", name="help centre visitor", role="customer")


class ArticleFeedback(Aggregate):
    @event("Given")
    def __init__(self, article_id: UUID, helpful: bool, actor: Actor = VISITOR) -> None:
        self.article_id = article_id
        self.helpful = helpful

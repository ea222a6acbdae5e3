"""marshmallow schemas of the knowledge-base routes (resources/kb.py): categories,
articles in and out, search and suggestion queries and their hits."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from domain.kb.article import SLUG, SLUG_MAX, STATES, Article
from infrastructure.search_text import WORD
from infrastructure.settings import DEFAULT_LANGUAGES
from interface.events.catalogue import union_name
from interface.http.schemas.common import (
    FullMatch,
    OutSchema,
    long_text,
    one_of,
    short_text,
    tag_list,
    text_pattern,
)
from interface.http.schemas.events import CataloguedEvent
from interface.http.schemas.tickets import TicketReadQueryIn

TITLE_MAX = 200
NAME_MAX = 100
QUERY_MAX = 200
# A language as the knowledge base keys its texts: a configured ISO 639-1 code.
LANGUAGE_CODE = r"^[a-z]{2,3}$"
# The document's values for a ``lang`` parameter (the default languages; see _language_map).
_LANG_DOC = {"enum": list(DEFAULT_LANGUAGES)}


def _language_map(
    values: fields.Field, shown: dict[str, Any], description: str, **kwargs: Any
) -> fields.Dict:
    """A map by language code. The document lists the default languages as its members
    (``shown``: what each holds), since OpenAPI cannot say "a configured language"; a
    deployment that configures others takes them too (ATENDE_LANGUAGES)."""
    return fields.Dict(
        keys=fields.String(validate=FullMatch(LANGUAGE_CODE, error="Not a language code.")),
        values=values,
        validate=validate.Length(min=1, max=20),
        metadata={
            "description": description,
            "minProperties": 1,
            "properties": {language: shown for language in DEFAULT_LANGUAGES},
            "additionalProperties": False,
        },
        **kwargs,
    )


class TranslationIn(Schema):
    title = short_text(TITLE_MAX, required=True)
    body = long_text(
        required=True,
        metadata={"description": "Markdown. Stored as written; raw HTML in it is shown "
                  "as text, never as markup (body_html)."},
    )  # fmt: skip


_TRANSLATION = {"$ref": "#/components/schemas/TranslationIn"}
_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": NAME_MAX,
    "pattern": text_pattern(short_text(NAME_MAX)),
}


class KbCategoryIn(Schema):
    names = _language_map(
        short_text(NAME_MAX),
        _NAME,
        "The category's name, by configured language.",
        required=True,
    )
    parent_id = fields.UUID(load_default=None, allow_none=True)


class KbCategoryOut(OutSchema):
    id = fields.UUID()
    names = fields.Dict(keys=fields.String(), values=fields.String())
    parent_id = fields.UUID(allow_none=True)


class KbCategoryListOut(Schema):
    items = fields.List(fields.Nested(KbCategoryOut), required=True)


class ArticleIn(Schema):
    slug = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=SLUG_MAX), FullMatch(SLUG.pattern)],
        metadata={"description": "Its address on the public help centre "
                  "(/v1/public/kb/articles/{slug}): lower-case words joined by hyphens. "
                  "Fixed for the article's life; a slug in use is a 409."},
    )  # fmt: skip
    translations = _language_map(
        fields.Nested(TranslationIn), _TRANSLATION, "Its texts, by configured language.",
        required=True,
    )
    category_id = fields.UUID(load_default=None, allow_none=True)
    tags = tag_list(load_default=list)


class ArticleChangeIn(Schema):
    translations = _language_map(
        fields.Nested(TranslationIn), _TRANSLATION, "Texts to write, by configured language."
    )
    category_id = fields.UUID(allow_none=True)
    tags = tag_list()


class TranslationOut(OutSchema):
    title = fields.String()
    body = fields.String(metadata={"description": "Markdown, as written."})
    outdated = fields.Boolean(
        metadata={"description": "The source language's text changed after this one."}
    )


class ArticleOut(OutSchema):
    class Meta:
        sometimes = ("as_of",)

    id = fields.UUID()
    slug = fields.String()
    state = one_of(STATES)
    version = fields.Integer(metadata={"description": "Its version (the ETag, for If-Match)."})
    source_language = fields.String()
    category_id = fields.UUID(allow_none=True)
    tags = fields.List(fields.String())
    author = fields.Dict(metadata={"description": "Who wrote it first (the principal)."})
    translations = fields.Dict(keys=fields.String(), values=fields.Nested(TranslationOut))
    language = fields.String(metadata={"description": "The language of title and body."})
    title = fields.String()
    body = fields.String(metadata={"description": "Markdown, as written."})
    body_html = fields.String(
        metadata={"description": "The body rendered to HTML with raw HTML escaped and "
                  "unsafe links (javascript:, data:...) left as text: safe to show as is."},
    )  # fmt: skip
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    as_of = fields.AwareDateTime()


class PublicArticleOut(OutSchema):
    slug = fields.String()
    language = fields.String()
    title = fields.String()
    body_html = fields.String()
    category_id = fields.UUID(allow_none=True)
    tags = fields.List(fields.String())
    updated_at = fields.AwareDateTime()


class ArticleReadQueryIn(TicketReadQueryIn):
    """``as_of`` as a ticket's read takes it, and the language shown."""

    lang = fields.String(
        validate=FullMatch(LANGUAGE_CODE, error="Not a language code."), metadata=_LANG_DOC
    )


class PublicArticleQueryIn(Schema):
    lang = fields.String(
        validate=FullMatch(LANGUAGE_CODE, error="Not a language code."), metadata=_LANG_DOC
    )


def _has_a_word(value: str) -> None:
    if not WORD.search(value):
        raise ValidationError("Give at least one word (letters or digits).")


class SearchQueryIn(Schema):
    q = fields.String(
        required=True,
        validate=[validate.Length(min=2, max=QUERY_MAX), _has_a_word],
        metadata={"description": "Words to find (2 to 200 characters): accents and word "
                  "endings do not matter (atencion finds Atención, facturas factura)."},
    )  # fmt: skip
    lang = fields.String(
        required=True,
        validate=FullMatch(LANGUAGE_CODE, error="Not a language code."),
        metadata={"description": "A configured language: texts in it are searched.", **_LANG_DOC},
    )
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class SuggestionQueryIn(Schema):
    limit = fields.Integer(load_default=5, validate=validate.Range(min=1, max=20))


class SearchHitOut(OutSchema):
    id = fields.UUID()
    slug = fields.String()
    language = fields.String()
    title = fields.String()
    snippet = fields.String(
        metadata={"description": "Where the words were found, HTML-escaped, the words in "
                  "<mark>: safe to show as is."},
    )  # fmt: skip
    score = fields.Float(metadata={"description": "Higher is better, within one answer."})


class SearchOut(Schema):
    items = fields.List(fields.Nested(SearchHitOut), required=True)


class SuggestOut(SearchOut):
    suggestion_id = fields.UUID(
        required=True,
        allow_none=True,
        metadata={
            "description": "This answer's id when it shows articles (null when it shows "
            "none): the ticket the customer opens anyway takes it as kb_suggestion_id."
        },
    )


class ArticleHistoryOut(Schema):
    article_id = fields.UUID(required=True, metadata={"description": "The article."})
    events = fields.List(CataloguedEvent(union_name(Article)), required=True)


class JsonBoolean(fields.Boolean):
    """JSON's true and false only, as the document says: marshmallow's Boolean also
    takes "yes", 1 and "on" (and 1 == True in a set)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class FeedbackIn(Schema):
    helpful = JsonBoolean(
        required=True,
        metadata={"description": "Whether the article answered the visitor's question."},
    )


class FeedbackOut(OutSchema):
    slug = fields.String(metadata={"description": "The article answered about."})
    helpful = fields.Boolean(metadata={"description": "The answer, as recorded."})


UNANSWERED_SHOWN = 100


class KbReportItemOut(OutSchema):
    article_id = fields.UUID(metadata={"description": "The article."})
    slug = fields.String(metadata={"description": "Its address on the help centre."})
    state = one_of(STATES)
    helpful = fields.Integer(metadata={"description": "Visitors who said it helped."})
    not_helpful = fields.Integer(metadata={"description": "Visitors who said it did not."})
    helpful_rate = fields.Float(
        allow_none=True,
        metadata={"description": "helpful / (helpful + not_helpful); null: no answers."},
    )
    views = fields.Integer(
        metadata={
            "description": "Reads on the public help centre that reached Atende (a shared "
            "cache's hits do not), as the API workers last recorded them."
        }
    )
    cited_by_tickets = fields.Integer(
        metadata={"description": "Tickets with a message that cites it."}
    )


class UnansweredOut(OutSchema):
    query = fields.String(
        metadata={
            "description": "What visitors searched, folded to lower case without accents; "
            "words holding a digit or @ are never kept."
        }
    )
    language = fields.String(metadata={"description": "The language searched in."})
    searches = fields.Integer(metadata={"description": "How many searches found nothing."})


class SuggestionsOut(OutSchema):
    shown = fields.Integer(
        metadata={"description": "Contact-form suggestion answers that showed articles."}
    )
    followed_by_ticket = fields.Integer(
        metadata={"description": "Of them, those a ticket was opened after (kb_suggestion_id)."}
    )
    deflected = fields.Integer(metadata={"description": "shown - followed_by_ticket."})
    deflection_rate = fields.Float(
        allow_none=True, metadata={"description": "deflected / shown; null: none shown."}
    )


class KbReportOut(Schema):
    items = fields.List(fields.Nested(KbReportItemOut), required=True)
    searches = fields.Integer(
        required=True, metadata={"description": "Searches the help centre answered."}
    )
    unanswered = fields.List(
        fields.Nested(UnansweredOut),
        required=True,
        metadata={
            "description": "The catalogue's gaps: searches that found nothing, by query "
            f"and language, most frequent first (at most {UNANSWERED_SHOWN})."
        },
    )
    suggestions = fields.Nested(
        SuggestionsOut,
        required=True,
        metadata={"description": "Contact-form suggestions and the tickets opened after them."},
    )

"""An example of every JSON request body, by its component's name: what an integrator
would send (tests/unit/test_openapi_descriptions.py checks each against its schema, and
the generated-client and e2e tests send bodies like these)."""

from __future__ import annotations

from typing import Any

AGENT = "7d4f1c2a-5b3e-5f60-9a1b-2c3d4e5f6a7b"

REQUEST_EXAMPLES: dict[str, Any] = {
    "OpenTicketIn": {
        "subject": "Sin conexión desde ayer",
        "description": "El módem parpadea en rojo y no navega.",
        "requester": {"name": "Ana Souza", "email": "ana@example.com"},
        "channel": "email",
        "language": "es",
        "priority": "high",
        "category": "fibra",
        "tags": ["vip"],
        "external_ref": "CRM-4821",
    },
    "AssignIn": {"agent_id": AGENT},
    "MessageIn": {
        "body": "Reiniciamos el puerto de su fibra; ¿ya navega?",
        "author_type": "agent",
        "author_id": AGENT,
        "visibility": "public",
    },
    "EmptyIn": {},
    "FeedbackIn": {"helpful": True},
    "KbCategoryIn": {"names": {"es": "Facturación", "pt": "Cobrança", "en": "Billing"}},
    "ArticleIn": {
        "slug": "pagar-factura",
        "translations": {
            "es": {
                "title": "Cómo pagar su factura",
                "body": "Pague en línea con **tarjeta** o en cualquier agencia.",
            },
            "pt": {
                "title": "Como pagar sua fatura",
                "body": "Pague pelo aplicativo com **cartão** ou em qualquer agência.",
            },
        },
        "tags": ["facturacion"],
    },
    "ArticleChangeIn": {
        "translations": {
            "en": {"title": "How to pay your bill", "body": "Pay online by **card**."}
        },
        "tags": ["billing", "facturacion"],
    },
    "StatusIn": {"status": "pending"},
    "LanguageIn": {"language": "pt-BR"},
    "PriorityIn": {"priority": "urgent"},
    "CategoryIn": {"category": "facturación"},
    "TagsIn": {"add": ["vip"], "remove": ["nuevo"]},
    "EscalateIn": {"reason": "Cliente corporativo sin servicio", "level": 2},
    "ResolveIn": {"resolution": "Puerto reiniciado; el servicio volvió."},
    "ReopenIn": {"reason": "El corte volvió a la noche."},
    "CalendarIn": {
        "timezone": "America/Sao_Paulo",
        "weekly": {
            day: [["09:00", "13:00"], ["14:00", "18:00"]]
            for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
        },
        "holidays": {"country": "BR", "subdivision": "SP"},
        "closures": [{"date": "2026-02-18", "end": "14:00", "reason": "Cinzas"}],
    },
    "PoliciesIn": {
        "policies": [
            {
                "name": "urgente",
                "calendar": "24x7",
                "targets": {"first_response": 900, "resolution": 14400},
                "conditions": {"priority": ["urgent"]},
                "escalate_on_breach": True,
            },
            {
                "name": "estandar",
                "calendar": "sao-paulo",
                "targets": {
                    "first_response": 14400,
                    "next_response": 28800,
                    "resolution": 172800,
                },
                "pause_on_hold": True,
            },
        ]
    },
    "AgentIn": {
        "name": "Lucía Quispe",
        "email": "lucia@support.example.com",
        "languages": ["es", "qu"],
        "skills": ["fibra", "facturación"],
        "capacity": 8,
    },
    "AvailabilityIn": {"availability": "online"},
    "LanguagesIn": {"languages": ["es", "pt", "qu"]},
    "SkillsIn": {"skills": ["fibra"], "generalist": True},
    "CapacityIn": {"capacity": 12},
    "IntakeIn": {
        "conversation_id": "wa-5511987654321",
        "message_id": "wamid.HBgMNTUxMTk4NzY1NDMyMRUCABIYIDNBQjI",
        "customer": {"name": "João Lima", "phone": "+55 11 98765-4321"},
        "text": "Minha internet caiu de novo.",
    },
    "SurveyAnswerIn": {"rating": 5, "comment": "Resolvieron rápido, gracias."},
    "EraseIn": {"reason": "Pedido del titular (LGPD art. 18)"},
    "TokenIn": {"name": "crm", "role": "integrator", "on_behalf": True, "expires_in": "90d"},
    "RotateIn": {"grace": "1d"},
    "WebhookIn": {
        "url": "https://crm.example.com/hooks/atende",
        "events": ["ticket.opened", "message_added"],
        "description": "CRM: new tickets and replies",
    },
    "ReplayIn": {"after_position": 1200},
}


TICKET = "3f2b8c1e-7a4d-4e8b-9c2f-1d5e6a7b8c9d"
CUSTOMER = "9a8b7c6d-5e4f-5a3b-8c2d-1e0f9a8b7c6d"
MESSAGE = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
OPENED_AT = "2026-12-05T14:03:11.204000+00:00"
REPLIED_AT = "2026-12-05T14:20:45.018000+00:00"
INTEGRATOR = {"id": "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e", "name": "crm", "role": "integrator"}
OPEN_TICKET = REQUEST_EXAMPLES["OpenTicketIn"]
# The ticket that request opened, once assigned and answered.
TICKET_OUT = {
    "id": TICKET,
    "number": 4821,
    **OPEN_TICKET,
    "requester": {"phone": None, "external_id": None, "handle": None,
                  **OPEN_TICKET["requester"]},
    "customer_id": CUSTOMER,
    "status": "open",
    "assignee": AGENT,
    "escalation": None,
    "resolution": None,
    "messages": [
        {
            "id": MESSAGE,
            **REQUEST_EXAMPLES["MessageIn"],
            "channel": "email",
            "created_at": REPLIED_AT,
            "attachments": [],
            "external_id": None,
            "outbound": {"channel": "email", "in_reply_to": "CAF=ana.1@mail.example.com",
                         "email_message_id": f"ticket-{TICKET}.{MESSAGE}@atende"},
            "articles": [],
        }
    ],
    "created_at": OPENED_AT,
    "updated_at": REPLIED_AT,
    "resolved_at": None,
    "closed_at": None,
    "language_source": None,
    "follow_up_of": None,
    "attachments": [],
    "survey_id": None,
    "pending_since": None,
    "version": 3,
    "position": 1207,
}  # fmt: skip
# What the ticket above shows that its opening event recorded.
OPENED_MEMBERS = ("subject", "description", "requester", "customer_id", "channel",
                  "language", "priority", "category", "tags", "external_ref")  # fmt: skip
OPENED_EVENT = {
    "ticket_id": TICKET,
    "aggregate_type": "ticket",
    "aggregate_id": TICKET,
    "version": 1,
    "type": "opened",
    "schema_version": 3,
    "occurred_at": OPENED_AT,
    "actor": INTEGRATOR,
    "data": {
        **{member: TICKET_OUT[member] for member in OPENED_MEMBERS},
        "language_source": None,
        "follow_up_of": None,
        "attachments": [],
        "external_message_id": None,
        "kb_suggestion_id": None,
    },
}
ASSIGNED_EVENT = {
    **{k: OPENED_EVENT[k] for k in ("ticket_id", "aggregate_type", "aggregate_id", "actor")},
    "version": 2,
    "type": "assigned",
    "schema_version": 1,
    "occurred_at": "2026-12-05T14:03:12.007000+00:00",
    "data": {"agent_id": AGENT, "reason": None},
}

RESPONSE_EXAMPLES: dict[str, Any] = {
    "TicketOut": TICKET_OUT,
    "HistoryOut": {"ticket_id": TICKET, "events": [OPENED_EVENT, ASSIGNED_EVENT]},
    "EventFeedOut": {
        "events": [{**OPENED_EVENT, "position": 1201}, {**ASSIGNED_EVENT, "position": 1202}],
        "next_after": 1202,
        "head": 1207,
    },
    "QueuePageOut": {
        "items": [
            {
                "id": TICKET, "number": 4821, "subject": TICKET_OUT["subject"],
                "status": "open", "priority": "high", "channel": "email", "language": "es",
                "category": "fibra", "assignee": AGENT, "requester_name": "Ana Souza",
                "created_at": OPENED_AT, "last_customer_message_at": OPENED_AT,
                "tags": ["vip"], "sla_breached": False,
                "sla_due_at": "2026-12-05T18:03:11+00:00",
            }
        ],
        "next_cursor": "eyJrIjpbMCwiMjAyNi0xMi0wNVQxODowMzoxMSswMDowMCJdfQ",
    },
    "AgentOut": {
        "id": AGENT, "name": "Lucía Quispe", "email": "lucia@support.example.com",
        "languages": ["es", "qu"], "skills": ["fibra", "facturación"], "generalist": False,
        "capacity": 8, "availability": "online", "active": True, "version": 2,
        "position": 1190,
    },
    "IssuedTokenOut": {
        "id": INTEGRATOR["id"], "name": "crm", "role": "integrator", "agent_id": None,
        "on_behalf": True, "created_at": OPENED_AT,
        "expires_at": "2027-03-05T14:03:11+00:00", "last_used_at": None,
        "revoked_at": None, "legacy": False, "status": "active",
        "token": "atd_4sGM0pk_uaZ9HDWAyBcr5Cj0xJUH4nGRJpm3jNpLOZU",
    },
}


def add_examples(schemas: dict[str, Any]) -> None:
    for name, example in {**REQUEST_EXAMPLES, **RESPONSE_EXAMPLES}.items():
        if name in schemas:
            schemas[name]["example"] = example

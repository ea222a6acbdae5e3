"""Each operation's ``operationId``: the name generated clients give its function
(``open_ticket``, ``list_queue``), so a readable verb and noun, never derived from the path.

Kept in one place so the names stay consistent with each other; the document's builder
fails on a route without one (tests/integration/test_openapi_coverage.py).
"""

from __future__ import annotations

_TICKET = "/v1/tickets/{ticket_id:uuid}"
_AGENT = "/v1/agents/{agent_id:uuid}"
_TOKEN = "/v1/tokens/{token_id:uuid}"
_WEBHOOK = "/v1/webhooks/{webhook_id:uuid}"
_DELIVERY = f"{_WEBHOOK}/deliveries/{{delivery_id:uuid}}"

OPERATION_IDS: dict[tuple[str, str], str] = {
    ("/v1/health", "get"): "getHealth",
    ("/metrics", "get"): "getMetrics",
    ("/v1/events", "get"): "listEvents",
    ("/v1/queue", "get"): "listQueue",
    ("/v1/tickets", "post"): "openTicket",
    ("/v1/tickets", "get"): "listTickets",
    (_TICKET, "get"): "getTicket",
    ("/v1/tickets/by-number/{n}", "get"): "getTicketByNumber",
    (f"{_TICKET}/history", "get"): "getTicketHistory",
    (f"{_TICKET}/assign", "post"): "assignTicket",
    (f"{_TICKET}/messages", "post"): "addMessage",
    (f"{_TICKET}/unassign", "post"): "unassignTicket",
    (f"{_TICKET}/status", "post"): "setTicketStatus",
    (f"{_TICKET}/language", "post"): "setTicketLanguage",
    (f"{_TICKET}/priority", "post"): "setTicketPriority",
    (f"{_TICKET}/category", "post"): "setTicketCategory",
    (f"{_TICKET}/tags", "post"): "changeTicketTags",
    (f"{_TICKET}/escalate", "post"): "escalateTicket",
    (f"{_TICKET}/resolve", "post"): "resolveTicket",
    (f"{_TICKET}/reopen", "post"): "reopenTicket",
    (f"{_TICKET}/close", "post"): "closeTicket",
    (f"{_TICKET}/sla", "get"): "getTicketSla",
    (f"{_TICKET}/survey", "get"): "getTicketSurvey",
    ("/v1/calendars/{name}", "get"): "getCalendar",
    ("/v1/calendars/{name}", "put"): "putCalendar",
    ("/v1/calendars/{name}", "delete"): "deleteCalendar",
    ("/v1/sla/policies", "get"): "getSlaPolicies",
    ("/v1/sla/policies", "put"): "replaceSlaPolicies",
    ("/v1/sla/breaches", "get"): "listSlaBreaches",
    ("/v1/reports/sla", "get"): "getSlaReport",
    ("/v1/agents", "post"): "registerAgent",
    ("/v1/agents", "get"): "listAgents",
    (_AGENT, "get"): "getAgent",
    (f"{_AGENT}/availability", "post"): "setAgentAvailability",
    (f"{_AGENT}/languages", "post"): "setAgentLanguages",
    (f"{_AGENT}/skills", "post"): "setAgentSkills",
    (f"{_AGENT}/capacity", "post"): "setAgentCapacity",
    (f"{_AGENT}/deactivate", "post"): "deactivateAgent",
    (f"{_AGENT}/reactivate", "post"): "reactivateAgent",
    (f"{_AGENT}/performance", "get"): "getAgentPerformance",
    ("/v1/intake/email", "post"): "receiveEmail",
    ("/v1/intake/{channel}", "post"): "receiveContact",
    ("/v1/customers/{customer_id:uuid}/tickets", "get"): "listCustomerTickets",
    ("/v1/customers/{customer_id:uuid}/erase", "post"): "eraseCustomer",
    ("/v1/surveys/{token}", "get"): "getSurvey",
    ("/v1/surveys/{token}", "post"): "answerSurvey",
    ("/v1/reports/satisfaction", "get"): "getSatisfactionReport",
    ("/v1/reports/agents", "get"): "getAgentsReport",
    ("/v1/audit/verify", "get"): "verifyAuditLog",
    ("/v1/audit/export", "get"): "exportAuditLog",
    ("/v1/audit/access-log", "get"): "listAccessLog",
    ("/v1/tokens", "post"): "createToken",
    ("/v1/tokens", "get"): "listTokens",
    (_TOKEN, "get"): "getToken",
    (f"{_TOKEN}/revoke", "post"): "revokeToken",
    (f"{_TOKEN}/rotate", "post"): "rotateToken",
    ("/v1/webhooks", "post"): "createWebhook",
    ("/v1/webhooks", "get"): "listWebhooks",
    (_WEBHOOK, "get"): "getWebhook",
    (_WEBHOOK, "delete"): "deleteWebhook",
    (f"{_WEBHOOK}/rotate-secret", "post"): "rotateWebhookSecret",
    (f"{_WEBHOOK}/enable", "post"): "enableWebhook",
    (f"{_WEBHOOK}/deliveries", "get"): "listWebhookDeliveries",
    (_DELIVERY, "get"): "getWebhookDelivery",
    (f"{_DELIVERY}/retry", "post"): "retryWebhookDelivery",
    (f"{_WEBHOOK}/replay", "post"): "replayWebhook",
    ("/v1/me", "get"): "getMe",
    ("/docs", "get"): "getDocsPage",
    ("/v1/openapi.json", "get"): "getOpenApiDocument",
}

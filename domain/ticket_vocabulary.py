"""The values a ticket's fields may take and how long its texts may be.

The Ticket aggregate, the HTTP schemas, the queue and mail intake all check against these,
so they live apart from the aggregate and every side reads the same lists.
"""

from __future__ import annotations

CHANNELS = ("email", "chat", "phone", "social", "web", "api")
PRIORITIES = ("low", "normal", "high", "urgent")
SETTABLE_STATUSES = ("open", "pending", "on_hold")
STATUSES = ("new", *SETTABLE_STATUSES, "resolved", "closed")
AUTHOR_TYPES = ("agent", "customer")
VISIBILITIES = ("public", "internal")
ACTIVE_STATUSES = ("open", "pending", "on_hold")
# How long a subject and a text (description, message) may be, whichever way they arrive.
SUBJECT_MAX = 200
TEXT_LIMIT_BYTES = 64 * 1024

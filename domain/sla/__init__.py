"""Service-level agreements: the ordered policy list and what each policy promises
(``policy``), the business-time arithmetic that counts only a calendar's open hours
(``business_time``), a ticket's companion aggregate of first-response, next-response and
resolution timers (``timers``), and which ticket events start, pause, resume and fulfil
those timers (``rules``). Import from the module that holds a name; this package re-exports
nothing."""

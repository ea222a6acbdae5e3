"""marshmallow schemas: those that load request bodies and queries, those that dump
answers, and the answers resources build by hand, written down for the OpenAPI document.

One module per resource module: the schemas of ``resources/tickets.py`` are in
``schemas/tickets.py``, and so on; ``common.py`` holds what several of them share.
"""

"""The OpenAPI document: ``Operation`` is what a resource module declares about each of
its routes, next to them; ``document.build`` turns the operations into OpenAPI 3.1.

The operations are collected from the resource modules by interface/http/operations.py,
so nothing here imports a resource.
"""

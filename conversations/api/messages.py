"""Sending and reading messages: POST /messages/, GET /messages/{id}/, retry, templates."""

urlpatterns: list = []

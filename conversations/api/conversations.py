"""Browsing the inbox: conversations, their messages, and the event catch-up feed."""

urlpatterns: list = []

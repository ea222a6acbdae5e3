"""The knowledge base (issue 23): articles in every language served, and their
categories. Both are aggregates in the same log as tickets, so an article can be shown
as of any instant and the audit chain covers every edit."""

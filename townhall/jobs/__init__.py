"""Durable work: the outbox (webhooks, push) and its worker."""

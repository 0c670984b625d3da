"""Outside services townhall talks to, each behind a small interface: SMS (console | twilio)."""

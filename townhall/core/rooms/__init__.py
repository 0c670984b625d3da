"""Live audio rooms: participants, roles, hand raises, speaker invites, scheduled events."""

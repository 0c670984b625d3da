"""The social domain: follows, blocks, topics, suggestions, notifications, invites, waitlist."""

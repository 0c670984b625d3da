"""The chat domain: channel types, channels, members, messages, threads, reactions, read state."""

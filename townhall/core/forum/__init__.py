"""The forum domain: boards, posts, comments, replies, tags, reaction slots, approval."""

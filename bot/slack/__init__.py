"""Slack adapters (slack-bolt, async): intake channels, the shortcut and /complaint, triage cards, digest."""

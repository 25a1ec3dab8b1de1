"""Complaints intake bot for UK social housing landlords."""

"""Outbound SMS: the sender that hands messages to Africa's Talking, and the outbox."""

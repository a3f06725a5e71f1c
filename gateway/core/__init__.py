"""What every part of the gateway stands on.

Settings, errors, the clock, the database, Redis, crypto, logging and the job queue.
"""

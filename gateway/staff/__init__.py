"""Staff: dashboard users, API tokens, roles and the audit log."""

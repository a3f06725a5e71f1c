"""The long-running processes: the supervisor of ``run``, the web server and the workers."""

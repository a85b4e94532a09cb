"""The user-service example is a template (its binary path is filled in by its test), not a gate."""

collect_ignore_glob = ["user_service/*"]

"""The user-service, greeter and hunted scenarios are templates (their tests fill in the binary paths),
not gates."""

collect_ignore_glob = ["user_service/*", "greeter/*", "hunted/*"]

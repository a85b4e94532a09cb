"""`gochaos init`: from how to start a Go service to a scenario that runs as written, with its first verdict.

Given the service's binary (a path, a published `go_install` ref, or a local `build` package), its
argv and optionally its config file, init runs it in a scratch dir of its own and finds, by asking
the running process: the ports it listens on (and the config values and flags that name them,
turned into the suite's port placeholders), what each port speaks, how it reloads its config and
what shows a reload (log lines, metrics, JSON fields), and which routes answer for a load. It
writes a commented scenario (and a copy of the config with placeholders) that the suite's own loader
accepts; what it could not find is a TODO naming what it tried.

One concept per module: `launch` (the process and its scratch dir), `listeners` (/proc sockets),
`config_addresses` (placeholders), `protocols` (HTTP, gRPC health, DNS), `config_format`,
`live_evidence` (what moved around an action), `reload_probe`, `metrics_probe`, `log_patterns`,
`live_choice`, `load_choice`, `findings`, `writer`, and `discover` (the whole sequence).
"""

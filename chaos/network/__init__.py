"""Network faults without root: links routed through the suite's userspace proxy, chaosproxy.

A *link* is one listen address of chaosproxy forwarded to one upstream host:port (TCP or UDP);
faults (delay, loss, blackhole, reset, bandwidth) are put on a link and taken off again through the
proxy's control API. Which links a run needs is decided when it is planned, from its faults
(`links.LinkPlan`), because the addresses are baked into the commands and configs the targets and
etcd members start with:

    etcd-client  a target's connections to the etcd members the suite starts: its {etcd_endpoints}
                 point at one link per member
    etcd-peer    between etcd members: each member advertises a link as its peer URL
    load         the load's traffic to a target: the load's host is a link
    upstream     a host:port the target's command, env or config names, rewritten to a link

Modules: `proxy` (the chaosproxy process and its control API client), `links` (what a plan routes,
its checks and dry-run lines), `routing` (the platform side: the proxy started on first need, the
links created as targets and etcd start, the `LinkRouting` ability injectors ask for), `proof`
(what a fault on a link did, measured). The injector is chaos.injectors.network.
"""

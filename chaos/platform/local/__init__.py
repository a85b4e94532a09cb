"""The local platform and its building blocks: supervised processes on loopback ports, cgroup
squeezes, iptables peer cuts and an etcd cluster of local processes (`platform.LocalPlatform`)."""

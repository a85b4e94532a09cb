"""Where targets run: the local process platform (default) and Kubernetes."""

"""What the suite itself deploys into its run namespace: the manifests it renders, its own targets, etcd,
the hog and Locust worker pods.

Nothing is imported here (see the parent package).
"""

"""What a team already deployed and the suite finds, checks and changes through the API: a service, its
pods' limits, its etcd, and the crash clean-up that puts every change back.

Nothing is imported here (see the parent package).
"""

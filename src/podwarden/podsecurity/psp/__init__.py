"""PodSecurityPolicy, reproduced: strategies, defaulting, selection, JSON Patch.

The public surface is `engine` (load_policies, Rbac, admit); the other modules
are one PSP concept each (ids, selinux, capabilities, sysctls, volumes, profiles)
plus the provider that applies them to a pod in PSP's order.
"""

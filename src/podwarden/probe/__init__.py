"""`podwarden probe`: from inside a pod, which metadata doors are open and what they expose."""

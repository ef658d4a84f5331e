"""A faithful local Google IAM Credentials endpoint (generateAccessToken) for tests and the lab."""

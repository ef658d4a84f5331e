"""Pure types and constants shared by every part (stdlib + pydantic only)."""

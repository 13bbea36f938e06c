"""CLI commands of issue #5 (not yet registered)."""


def register(sub, parent) -> None:
    """Add this area's sub-commands to the parser."""

"""CLI commands of issue #3 (not yet registered)."""


def register(sub, parent) -> None:
    """Add this area's sub-commands to the parser."""

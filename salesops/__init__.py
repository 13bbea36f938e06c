"""salesops: a sales-operations workbench. The package never imports streamlit outside
``salesops.ui``; it is usable from the CLI, tests and notebooks."""

__version__ = "0.1.0"

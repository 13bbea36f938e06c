"""The Streamlit glue: session keys, cached loaders, shared widgets. Only this package (and
views/) imports streamlit."""

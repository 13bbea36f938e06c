"""Placeholder until issue #3 lands its page."""
import streamlit as st

st.title("Import")
st.info("This page is being built.")

"""Placeholder until issue #6 lands its page."""
import streamlit as st

st.title("Pipeline")
st.info("This page is being built.")

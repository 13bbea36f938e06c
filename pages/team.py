"""Placeholder until issue #4 lands its page."""
import streamlit as st

st.title("Team")
st.info("This page is being built.")

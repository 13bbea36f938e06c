"""Placeholder until issue #7 lands its page."""
import streamlit as st

st.title("Goals")
st.info("This page is being built.")
